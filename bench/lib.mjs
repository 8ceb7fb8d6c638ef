// Shared pieces of the benchmarks: real redis-server processes, free ports, and the report format
// (each figure beside its ceiling measured in the same run, with the ratio and the goal).
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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

const rows = [];

/**
 * Prints one figure beside its ceiling. `higherIsBetter` decides the ratio's direction:
 * throughput ratios are figure/ceiling, latency ratios are figure/ceiling too but the goal is a maximum.
 */
export function report({ name, value, unit, ceilingName, ceiling, goal }) {
  const ratio = ceiling ? value / ceiling : undefined;
  const row = {
    figure: name,
    value: `${format(value)} ${unit}`,
    ceiling: ceilingName ? `${ceilingName}: ${format(ceiling)} ${unit}` : '',
    ratio: ratio === undefined ? '' : ratio.toFixed(2),
    goal: goal ?? '',
  };
  rows.push(row);
  console.log(`${row.figure.padEnd(58)} ${row.value.padStart(16)}   ${row.ceiling.padEnd(48)} ratio ${row.ratio.padStart(5)}   goal ${row.goal}`);
}

export function section(title) {
  console.log(`\n== ${title}`);
}

function format(value) {
  if (value === undefined || Number.isNaN(value)) return 'n/a';
  return value >= 100 ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
}
