// `npm run bench [-- NAME… ] [--json FILE] [--compare FILE]`: runs every bench/*.bench.mjs (or the
// ones whose file name contains a NAME) in its own process, one after the other, so one suite's
// load does not skew another's figures. Each suite writes its figures to
// bench/results/<suite>.json; `--json FILE` also writes all of them to FILE; `--compare FILE`
// prints each figure's ratio beside the one in FILE (a file `--json` wrote, e.g. the committed
// bench/baseline.json) and exits with 1 when one dropped by more than 15 % (bench/compare.mjs).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { compareFigures } from './compare.mjs';

const { values: options, positionals: only } = parseArgs({
  allowPositionals: true,
  options: { json: { type: 'string' }, compare: { type: 'string' } },
});
const baseline = options.compare === undefined ? undefined : JSON.parse(readFileSync(options.compare, 'utf8'));

const all = readdirSync(new URL('.', import.meta.url))
  .filter((file) => file.endsWith('.bench.mjs'))
  .sort();
// Suites a NAME brings along: the live figures include the board's (event → DOM update, issue 21's `npm run bench -- live`).
const COMPANIONS = { live: ['board-latency'] };
// A NAME that is a suite's whole name runs that suite alone (`live`, not also `abuse-live`) with its companions; any other NAME, every suite containing it.
const wholeNames = only.flatMap((name) => (all.includes(`${name}.bench.mjs`) ? [name, ...(COMPANIONS[name] ?? [])] : []));
const suites = all.filter(
  (file) => only.length === 0 || wholeNames.some((name) => file === `${name}.bench.mjs`) || only.some((name) => !all.includes(`${name}.bench.mjs`) && file.includes(name)),
);
if (suites.length === 0) {
  console.error(`no bench matches ${only.join(', ')}`);
  process.exit(1);
}

let failed = false;
const results = {};
for (const suite of suites) {
  const name = suite.replace(/\.bench\.mjs$/, '');
  const jsonFile = new URL(`./results/${name}.json`, import.meta.url).pathname;
  // A figure file left by an earlier run must not pass for this run's.
  rmSync(jsonFile, { force: true });
  const result = spawnSync(process.execPath, [new URL(suite, import.meta.url).pathname], { stdio: 'inherit', env: { ...process.env, BENCH_JSON: jsonFile } });
  if (result.status !== 0) {
    failed = true;
    console.error(`bench ${suite} failed (exit ${result.status})`);
  }
  if (existsSync(jsonFile)) results[name] = JSON.parse(readFileSync(jsonFile, 'utf8'));
}

// The knobs the suites read (durations, rounds, sizes): a comparison means most under the same ones.
const settings = Object.fromEntries(Object.entries(process.env).filter(([name]) => /^(BENCH|CTI_BENCH)_/.test(name) && name !== 'BENCH_JSON').sort());
const run = { finishedAt: new Date().toISOString(), machine: { cpus: cpus().length, loadAverage: loadavg()[0] }, settings, suites: results };
if (options.json !== undefined) writeFileSync(options.json, `${JSON.stringify(run, null, 2)}\n`);
let dropped = 0;
if (baseline !== undefined) dropped = compareFigures(baseline, run, (line) => console.log(line)).dropped;
if (dropped > 0) console.error(`\n${dropped} figure(s) dropped by more than 15 % against ${options.compare}`);
process.exit(failed || dropped > 0 ? 1 : 0);
