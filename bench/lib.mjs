// Shared pieces of the benchmarks: real redis-server processes, free ports, CPU meters, and the
// report format (each figure beside its ceiling measured in the same run, with the ratio and the
// goal), printed as text and written as JSON (bench/run.mjs, `--json` and `--compare`).
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { LocalRedisServer } from '../dist/redis/local-server.js';

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function tempDir(prefix = 'switchboard-bench-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A fresh redis-server (append-only, everysec) on a free port. */
export async function startRedis({ appendOnly = true } = {}) {
  return LocalRedisServer.start({ port: await freePort(), dir: tempDir('switchboard-bench-redis-'), appendOnly });
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function percentile(sortedValues, p) {
  if (sortedValues.length === 0) return NaN;
  const index = Math.min(sortedValues.length - 1, Math.ceil((p / 100) * sortedValues.length) - 1);
  return sortedValues[Math.max(0, index)];
}

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (clock ticks of 10 ms). */
export function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Stands for this process in a CPU meter: a hub started in-process, or a ceiling's client driven from here. */
export const THIS_PROCESS = 'this process';

function processCpuSeconds(pid) {
  if (pid !== THIS_PROCESS) return cpuSeconds(pid);
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
}

/**
 * Counts, from now, the CPU of the hub's processes and of redis-server's (pids, or THIS_PROCESS);
 * `perEvent(events)` gives each in µs per event. CPU per event barely moves with the machine's
 * load, where wall-clock rates on this shared machine swing by half between two runs.
 */
export function cpuMeter({ hub, redis }) {
  const total = (pids) => [pids].flat().reduce((sum, pid) => sum + processCpuSeconds(pid), 0);
  const before = { hub: total(hub), redis: total(redis) };
  return {
    perEvent: (events) => ({
      hubUs: ((total(hub) - before.hub) / events) * 1e6,
      redisUs: ((total(redis) - before.redis) / events) * 1e6,
    }),
  };
}

/** The median of each process's CPU per event (`hubUs`, `redisUs`) over rounds of a figure. */
export function medianCpu(rounds) {
  const middle = (field) => rounds.map((round) => round[field]).sort((a, b) => a - b)[Math.floor(rounds.length / 2)];
  return { hubUs: middle('hubUs'), redisUs: middle('redisUs') };
}

/**
 * Two rows beside a throughput figure: the hub's CPU per event and redis-server's, each beside
 * the same for the ceiling (`ceilingCpu`, from the ceiling's own process and its redis-server).
 * `hub` names what the first row measured when that is more than the hub (a hub started in the
 * bench process shares it with the load).
 */
export function reportCpu({ name, cpu, ceilingName, ceilingCpu, hub = 'hub' }) {
  const ceiling = (field, label) => (ceilingCpu ? { ceilingName: label, ceiling: ceilingCpu[field] } : {});
  report({ name: `${name}: ${hub} CPU per event`, value: cpu.hubUs, unit: 'µs', ...ceiling('hubUs', `${ceilingName}, its own process`), goal: 'lower is better' });
  report({ name: `${name}: redis-server CPU per event`, value: cpu.redisUs, unit: 'µs', ...ceiling('redisUs', ceilingName), goal: 'lower is better' });
}

const suite = basename(process.argv[1] ?? 'bench', '.bench.mjs');
const figures = [];
let currentSection = '';

/**
 * Prints one figure beside its ceiling, and keeps it for the JSON file. `better` says which way
 * is an improvement (rates by default higher, everything else lower); the ratio is figure/ceiling.
 */
export function report({ name, value, unit, ceilingName, ceiling, goal, better = /\/s$/.test(unit) ? 'higher' : 'lower' }) {
  const ratio = ceiling ? value / ceiling : undefined;
  figures.push({ section: currentSection, figure: name, value: finite(value), unit, ceilingName: ceilingName ?? null, ceiling: finite(ceiling), ratio: finite(ratio), better, goal: goal ?? '' });
  const row = {
    value: `${format(value)} ${unit}`,
    ceiling: ceilingName ? `${ceilingName}: ${format(ceiling)} ${unit}` : '',
    ratio: ratio === undefined ? '' : ratio.toFixed(2),
  };
  console.log(`${name.padEnd(58)} ${row.value.padStart(16)}   ${row.ceiling.padEnd(48)} ratio ${row.ratio.padStart(5)}   goal ${goal ?? ''}`);
}

export function section(title) {
  currentSection = title;
  console.log(`\n== ${title}`);
}

function finite(value) {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

function format(value) {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}

/** Where this suite's figures go as JSON: BENCH_JSON (set by bench/run.mjs), else bench/results/<suite>.json. */
const jsonFile = process.env.BENCH_JSON ?? new URL(`./results/${suite}.json`, import.meta.url).pathname;

// Written on exit, so a suite that stops half-way still leaves the figures it measured.
process.on('exit', () => {
  if (figures.length === 0) return;
  mkdirSync(dirname(jsonFile), { recursive: true });
  const machine = { cpus: cpus().length, loadAverage: loadavg()[0] };
  writeFileSync(jsonFile, `${JSON.stringify({ suite, finishedAt: new Date().toISOString(), machine, figures }, null, 2)}\n`);
});
