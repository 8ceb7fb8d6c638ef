// Compares a run's figures with a baseline run's (both as bench/run.mjs `--json` writes them):
// each figure's ratio to its ceiling (or, without a ceiling, its value) now and then, and a flag
// on each that moved the wrong way by more than 15 %. Ratios are compared rather than raw rates
// because the ceiling runs in the same run, on the same loaded machine.
// Alone: `node bench/compare.mjs BASELINE.json CURRENT.json`.
import { readFileSync } from 'node:fs';

export const DROP_LIMIT = 0.15;

/**
 * A figure's identity across runs: its suite, section, name and ceiling, without the numbers a
 * run chooses or measures (durations in section titles, "(52,340 received)" in names).
 */
function figureKey(suite, figure) {
  const section = figure.section.replace(/\d[\d,.]*/g, '#');
  return `${suite} / ${section} / ${figure.figure.replace(/\s*\(\d[\d,.]*\s[^)]*\)/g, '')} / ${figure.ceilingName ?? ''}`;
}

function compared(figure) {
  return figure.ratio ?? figure.value;
}

/** Prints one line per figure found in both runs; returns how many dropped. */
export function compareFigures(baseline, current, print) {
  const before = new Map();
  for (const [suite, { figures }] of Object.entries(baseline.suites)) for (const figure of figures) before.set(figureKey(suite, figure), figure);
  print(`\n== compared with the baseline of ${baseline.finishedAt} (load ${baseline.machine.loadAverage.toFixed(1)}; now ${current.machine.loadAverage.toFixed(1)}); ratios to the ceiling, or values where there is none`);
  const settings = (run) => JSON.stringify(run.settings ?? {});
  if (settings(baseline) !== settings(current)) print(`   settings differ: baseline ${settings(baseline)}, now ${settings(current)}`);
  let dropped = 0;
  const unmatched = [];
  for (const [suite, { figures }] of Object.entries(current.suites)) {
    let heading;
    for (const figure of figures) {
      const key = figureKey(suite, figure);
      if (heading !== figure.section) {
        heading = figure.section;
        print(`-- ${suite}: ${heading}`);
      }
      const then = before.get(key);
      const now = compared(figure);
      if (then === undefined || compared(then) === null || now === null) {
        unmatched.push(key);
        continue;
      }
      const change = compared(then) === 0 ? 0 : now / compared(then) - 1;
      const worse = figure.better === 'higher' ? -change : change;
      const drop = worse > DROP_LIMIT;
      if (drop) dropped += 1;
      const kind = figure.ratio === null ? `value (${figure.unit})` : 'ratio';
      const label = figure.ceilingName === null ? figure.figure : `${figure.figure} / ${figure.ceilingName}`;
      print(`${drop ? '!! ' : '   '}${label.padEnd(110)} ${kind.padEnd(14)} ${format(compared(then)).padStart(10)} → ${format(now).padStart(10)}  ${(change >= 0 ? '+' : '') + (change * 100).toFixed(0)} % (${figure.better} is better)`);
    }
  }
  if (unmatched.length > 0) print(`   not in both runs: ${unmatched.join('; ')}`);
  return { dropped };
}

function format(value) {
  return Math.abs(value) >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [baselineFile, currentFile] = process.argv.slice(2);
  if (!baselineFile || !currentFile) {
    console.error('usage: node bench/compare.mjs BASELINE.json CURRENT.json');
    process.exit(2);
  }
  const read = (file) => JSON.parse(readFileSync(file, 'utf8'));
  const { dropped } = compareFigures(read(baselineFile), read(currentFile), (line) => console.log(line));
  process.exit(dropped > 0 ? 1 : 0);
}
