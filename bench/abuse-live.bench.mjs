// `npm run bench -- abuse`: a hostile live state, 100k agents × 100k queues: agent i took a call
// in queue i (so it serves that queue, in every build of the hub), and the PBX lists it in queues
// i and i+1 (a build that reads `data.queues` has two agents in every queue). The hub runs as its own process (`switchboard start`), so
// its RSS and CPU are its own and the probes here measure what a client sees. Figures: the
// /v1/live routes' latency, /healthz and POST /v1/events latency while those routes are computed
// (beside the same probes on the idle hub), the hub's RSS before and after, and the memory each
// live entity costs (a projection built in this process, measured on the JS heap).
//
// BENCH_LIVE_SIZE (100000) sets the size; BENCH_HUB_DIST runs another build of the hub, e.g. an
// older commit's: `git worktree add /tmp/old <commit> && (cd /tmp/old && npm ci && npm run build)`,
// then `BENCH_HUB_DIST=/tmp/old/dist npm run bench -- abuse`. BENCH_ROUTE_TIMEOUT_MS gives up on
// a request after that long (the build before indexed views needs many minutes at full size):
// the figure is then reported as that time, marked "cut off".
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { waitForPort } from '../dist/redis/local-server.js';
import { cpuSeconds, freePort, percentile, report, section, sleep, startRedis, tempDir } from './lib.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const SIZE = Number(process.env.BENCH_LIVE_SIZE ?? 100_000);
const DIST = process.env.BENCH_HUB_DIST ?? new URL('../dist/', import.meta.url).pathname;
const TOKEN = 'bench-token-0123456789abcdef';
/** Agents per intake request (three events each). */
const BATCH = 333;
const CUT_OFF_MS = Number(process.env.BENCH_ROUTE_TIMEOUT_MS ?? 0) || undefined;
const within = () => {
  if (!CUT_OFF_MS) return {};
  const controller = new AbortController();
  setTimeout(() => controller.abort(), CUT_OFF_MS).unref();
  return { signal: controller.signal };
};
let cutOff = false;

const { ConfigSchema } = await import(join(DIST, 'config/schema.js'));
const bounded = 'maxAgents' in ConfigSchema.properties.live.properties;
const { LiveProjection } = await import(join(DIST, 'live/projection.js'));
const { parseConfig } = await import(join(DIST, 'config/load.js'));

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024;

const redis = await startRedis();
const port = await freePort();
const configFile = join(tempDir(), 'switchboard.json');
writeFileSync(
  configFile,
  JSON.stringify({
    dataDir: tempDir(),
    logLevel: 'error',
    keyPrefix: 'bench-abuse-live',
    // The build before indexed views took minutes per answer: no idle-socket cut.
    http: { port, connectionTimeoutMs: 0 },
    redis: { url: redis.url, commandTimeoutMs: 5000 },
    auth: { apiToken: TOKEN },
    eventLog: { maxLength: 10 * SIZE },
    profiles: { enigma: { enabled: false }, newfies: { enabled: false } },
    webhooks: { enabled: false },
    live: bounded ? { maxAgents: SIZE + 1000, maxQueues: SIZE + 1000 } : {},
  }),
);
const hub = spawn(process.execPath, [join(DIST, 'cli/main.js'), 'start'], { env: { PATH: process.env.PATH, SWITCHBOARD_CONFIG: configFile }, stdio: ['ignore', 'ignore', 'pipe'] });
let hubErrors = '';
hub.stderr.on('data', (chunk) => (hubErrors += chunk));
hub.once('exit', (code) => code && console.error(`hub exited with ${code}:\n${hubErrors}`));
const url = `http://127.0.0.1:${port}`;
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };

async function post(events) {
  const response = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify(events), ...within() });
  if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
}
async function get(path) {
  const response = await fetch(`${url}${path}`, { headers, ...within() });
  const body = await response.json();
  if (response.status !== 200) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}
/** Agent i's call in queue i, then its status with the queues the PBX lists. */
const stateEvents = (i) => {
  const call = { call_id: `c${i}`, queue: `q${i}`, agent: `a${i}` };
  return [
    { id: `abuse-${i}-connected`, type: 'call.connected', data: call },
    { id: `abuse-${i}-ended`, type: 'call.ended', data: call },
    { id: `abuse-${i}-status`, type: 'agent.status_changed', data: { agent: `a${i}`, status: i % 3 === 0 ? 'busy' : 'available', queues: [`q${i}`, `q${(i + 1) % SIZE}`] } },
  ];
};
const timed = async (work) => {
  const started = performance.now();
  try {
    await work();
  } catch (error) {
    // Node's fetch gives up on its own after 300 s without response headers.
    if (error.name !== 'AbortError' && error.cause?.code !== 'UND_ERR_HEADERS_TIMEOUT') throw error;
    cutOff = true;
  }
  return performance.now() - started;
};
let probeSeq = 0;
const probeEvent = () => {
  const time = new Date().toISOString();
  return [{ type: 'cdr.created', time, data: { call_id: `probe-${probeSeq++}`, number: '+27215550000', direction: 'inbound', dialed_at: time, disposition: 'answered' } }];
};
/** /healthz and POST /v1/events, each in its own loop, again and again until `done()`: each latency. */
async function probe(done) {
  const loop = async (request) => {
    const latencies = [];
    do latencies.push(await timed(request));
    while (!done());
    return latencies.sort((a, b) => a - b);
  };
  const [healthz, intake] = await Promise.all([loop(() => fetch(`${url}/healthz`, within()).then((response) => response.arrayBuffer())), loop(() => post(probeEvent()))]);
  return { healthz, intake };
}
/** Waits until the live projection has applied the event with this id. */
async function applied(eventId) {
  const { position } = await get(`/v1/events/${eventId}`);
  const [ms, seq] = position.split('-').map(Number);
  for (;;) {
    const ready = await (await fetch(`${url}/readyz`)).json();
    const live = ready.checks.find((check) => check.name === 'live');
    const [liveMs, liveSeq] = String(live?.position ?? '0-0').split('-').map(Number);
    if (liveMs > ms || (liveMs === ms && liveSeq >= seq)) return;
    await sleep(100);
  }
}

try {
  await waitForPort(port, 20_000);
  section(`live state of ${SIZE.toLocaleString('en-US')} agents × ${SIZE.toLocaleString('en-US')} queues (hub: ${DIST}; live.max* bounds: ${bounded ? 'yes' : 'none in this build'})`);
  for (let i = 0; i < 50; i += 1) await probe(() => true);
  let idleProbes = 0;
  const idle = await probe(() => ++idleProbes >= 600);
  const rssIdle = rssMiB(hub.pid);

  let cpu = cpuSeconds(hub.pid);
  let redisCpu = cpuSeconds(redis.pid);
  let started = performance.now();
  for (let from = 0; from < SIZE; from += BATCH) {
    const batch = [];
    for (let i = from; i < Math.min(SIZE, from + BATCH); i += 1) {
      batch.push(...stateEvents(i));
    }
    await post(batch);
  }
  await applied(`abuse-${SIZE - 1}-status`);
  const buildSeconds = (performance.now() - started) / 1000;
  const buildCpu = cpuSeconds(hub.pid) - cpu;
  const buildRedisCpu = cpuSeconds(redis.pid) - redisCpu;
  await sleep(2000);
  const rssBuilt = rssMiB(hub.pid);
  console.log(`  built from ${(3 * SIZE).toLocaleString('en-US')} events in ${buildSeconds.toFixed(1)} s; hub CPU ${buildCpu.toFixed(1)} s (${((buildCpu * 1e6) / (3 * SIZE)).toFixed(1)} µs/event), redis-server CPU ${buildRedisCpu.toFixed(1)} s`);
  report({ name: 'hub RSS, idle', value: rssIdle, unit: 'MiB' });
  report({ name: `hub RSS with the live state built`, value: rssBuilt, unit: 'MiB', ceilingName: 'idle', ceiling: rssIdle });

  section('GET /v1/live/queues and /v1/live/agents (first page, default limit), both at once; /healthz and POST /v1/events meanwhile');
  cpu = cpuSeconds(hub.pid);
  redisCpu = cpuSeconds(redis.pid);
  started = performance.now();
  let pending = 2;
  const route = (path) =>
    timed(() => get(path)).finally(() => {
      pending -= 1;
    });
  const routes = Promise.all([route('/v1/live/queues'), route('/v1/live/agents')]);
  const during = await probe(() => pending === 0);
  const [queuesMs, agentsMs] = await routes;
  const wallSeconds = (performance.now() - started) / 1000;
  if (cutOff) console.log(`  cut off: a request got no answer within ${CUT_OFF_MS / 1000} s (BENCH_ROUTE_TIMEOUT_MS); those figures are "at least"`);
  console.log(`  hub CPU ${(cpuSeconds(hub.pid) - cpu).toFixed(2)} s over ${wallSeconds.toFixed(2)} s wall-clock; redis-server CPU ${(cpuSeconds(redis.pid) - redisCpu).toFixed(2)} s; ${during.healthz.length} probes`);
  report({ name: 'GET /v1/live/queues', value: queuesMs, unit: 'ms', ceilingName: '/healthz idle p50', ceiling: percentile(idle.healthz, 50) });
  report({ name: 'GET /v1/live/agents', value: agentsMs, unit: 'ms', ceilingName: '/healthz idle p50', ceiling: percentile(idle.healthz, 50) });
  report({ name: '/healthz during the routes, worst', value: during.healthz.at(-1), unit: 'ms', ceilingName: 'idle worst', ceiling: idle.healthz.at(-1), goal: '≤ 1,000 ms' });
  report({ name: '/healthz during the routes, p50', value: percentile(during.healthz, 50), unit: 'ms', ceilingName: 'idle p50', ceiling: percentile(idle.healthz, 50) });
  report({ name: 'POST /v1/events during the routes, worst', value: during.intake.at(-1), unit: 'ms', ceilingName: 'idle worst', ceiling: idle.intake.at(-1), goal: '≤ 1,000 ms' });
  report({ name: 'POST /v1/events during the routes, p50', value: percentile(during.intake, 50), unit: 'ms', ceilingName: 'idle p50', ceiling: percentile(idle.intake, 50) });

  const first = cutOff ? {} : await get('/v1/live/queues?limit=5000');
  if ('next_cursor' in first) {
    section('every page of /v1/live/queues (limit 5000), one after the other; /healthz and POST /v1/events meanwhile');
    let walking = true;
    let pages = 1;
    cpu = cpuSeconds(hub.pid);
    started = performance.now();
    const walk = (async () => {
      for (let cursor = first.next_cursor; cursor; pages += 1) cursor = (await get(`/v1/live/queues?limit=5000&cursor=${encodeURIComponent(cursor)}`)).next_cursor;
    })().finally(() => (walking = false));
    const walkProbes = await probe(() => !walking);
    await walk;
    const walkMs = performance.now() - started;
    console.log(`  ${pages} pages in ${(walkMs / 1000).toFixed(2)} s; hub CPU ${(cpuSeconds(hub.pid) - cpu).toFixed(2)} s`);
    report({ name: `all ${pages} pages of /v1/live/queues, per page`, value: walkMs / pages, unit: 'ms', ceilingName: '/healthz idle p50', ceiling: percentile(idle.healthz, 50) });
    report({ name: '/healthz during the page walk, worst', value: walkProbes.healthz.at(-1), unit: 'ms', ceilingName: 'idle worst', ceiling: idle.healthz.at(-1), goal: '≤ 1,000 ms' });
    report({ name: 'POST /v1/events during the page walk, worst', value: walkProbes.intake.at(-1), unit: 'ms', ceilingName: 'idle worst', ceiling: idle.intake.at(-1), goal: '≤ 1,000 ms' });
  }
  report({ name: 'hub RSS after the routes', value: rssMiB(hub.pid), unit: 'MiB', ceilingName: 'idle', ceiling: rssIdle });
} finally {
  // A hub still computing a cut-off answer cannot run its SIGTERM handler.
  const exited = new Promise((resolve) => hub.once('exit', resolve));
  hub.kill(cutOff ? 'SIGKILL' : 'SIGTERM');
  await exited;
  await redis.close();
}

section(`memory per live entity (a projection in this process, JS heap after GC, ${SIZE.toLocaleString('en-US')} of each)`);
{
  const config = parseConfig(bounded ? { live: { maxAgents: 10 * SIZE, maxQueues: 10 * SIZE, maxCalls: 10 * SIZE } } : {}).live;
  const time = new Date().toISOString();
  const heap = () => {
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  };
  const measure = (name, events) => {
    const projection = new LiveProjection(config);
    const before = heap();
    for (const [i, event] of events.flat().entries()) projection.apply({ id: `e${i}`, time, ...event }, `${i + 1}-0`);
    const bytes = (heap() - before) / SIZE;
    report({ name, value: bytes, unit: 'bytes' });
    return projection;
  };
  const range = (make) => Array.from({ length: SIZE }, (_, i) => make(i));
  measure('per agent (no queue)', range((i) => ({ type: 'agent.status_changed', data: { agent: `a${i}`, status: 'available' } })));
  const state = measure('per agent with its queue and memberships (the bench state)', range(stateEvents));
  const views = await import(join(DIST, 'live/views.js'));
  if (views.PAGE_LIMIT_MAX) {
    // What the answers leave behind: every page of both lists, then the heap after GC.
    const { EventFilter } = await import(join(DIST, 'stream/filter.js'));
    const filter = EventFilter.scopeOnly(undefined, undefined);
    const before = heap();
    for (const view of [views.queuesView, views.agentsView]) {
      let cursor;
      do cursor = (await view(state, filter, { limit: views.PAGE_LIMIT_MAX, cursor })).next_cursor ?? undefined;
      while (cursor);
    }
    report({ name: 'heap left after every page of both lists', value: (heap() - before) / 1048576, unit: 'MiB' });
  }
  measure('per queue (with its counters)', range((i) => ({ type: 'call.abandoned', data: { call_id: `c${i}`, queue: `q${i}`, reason: 'caller_hungup' } })));
  measure('per call in progress (queued)', range((i) => ({ type: 'call.queued', data: { call_id: `c${i}`, queue: `q${i % 100}`, caller_id: '+27215550000' } })));
}
