// Intake benchmarks. Every figure is printed beside a ceiling measured in the same run.
import { fork, spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { Pool } from 'undici';
import { SandboxDialler } from '../dist/sandbox/dialler.js';
import { LocalRedisServer, waitForPort } from '../dist/redis/local-server.js';
import { cpuMeter, freePort, percentile, report, reportCpu, section, sleep, startRedis, tempDir, THIS_PROCESS } from './lib.mjs';

const DURATION_S = Number(process.env.BENCH_DURATION_S ?? 8);
const CONNECTIONS = 8;
const BATCH = 100;

/** Realistic mixed traffic from the sandbox dialler, `count` events. */
function sandboxEvents(count, seed = 1) {
  const dialler = new SandboxDialler({ agents: 50, campaigns: 4, seed });
  const events = [];
  while (events.length < count) events.push(...dialler.next());
  return events.slice(0, count);
}

async function startHub(redisUrl, extraEnv = {}) {
  const port = await freePort();
  // Started through its shebang, as `npm start` and the installed `switchboard` command run it.
  const child = spawn(new URL('../dist/cli/main.js', import.meta.url).pathname, ['start'], {
    env: { PATH: process.env.PATH, SWITCHBOARD_REDIS_URL: redisUrl, SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_DATA_DIR: tempDir(), SWITCHBOARD_LOG_LEVEL: 'error', ...extraEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  child.once('exit', (code) => code && console.error(`hub exited with ${code}:\n${errors}`));
  await waitForPort(port, 15_000);
  return {
    url: `http://127.0.0.1:${port}`,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function run(options) {
  return new Promise((resolve, reject) => {
    autocannon({ duration: DURATION_S, connections: CONNECTIONS, method: 'POST', headers: { 'content-type': 'application/json' }, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
  });
}

/**
 * Every server (ours and the baselines) gets the same 2 s warm-up, so JIT compilation is not
 * measured; the CPU of `processes` (cpuMeter's hub and redis) is counted after it.
 */
async function cannon(options, processes) {
  await run({ ...options, duration: 2 });
  const meter = cpuMeter(processes);
  const result = await run(options);
  return { result, meter };
}

async function metric(hubUrl, name) {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  const match = text.match(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm'));
  return match ? Number(match[1]) : NaN;
}

/**
 * The Redis commands the append script runs per event, sent as raw node-redis pipelines from this
 * process: events/s, and CPU per event of this process and of redis-server.
 */
async function rawPipeline(redis, batches) {
  const redisUrl = redis.url;
  const clients = await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    const client = createClient({ url: redisUrl, RESP: 2 });
    await client.connect();
    return client;
  }));
  let events = 0;
  let sequence = 0;
  const meter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  const deadline = performance.now() + DURATION_S * 1000;
  await Promise.all(clients.map(async (client, worker) => {
    while (performance.now() < deadline) {
      const batch = batches[sequence++ % batches.length];
      const multi = client.multi();
      for (const event of batch) {
        const id = `raw-${worker}-${sequence}-${events}`;
        multi.get(`raw:{log}:dedup:${id}`);
        multi.xAdd('raw:{log}:events', '*', { id, type: event.type, event: JSON.stringify(event) }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 1_000_000 } });
        if (event.type === 'cdr.created') multi.lPush('raw:enigma:notifications:campaigns', JSON.stringify(event.data));
        else multi.publish(`raw:enigma:${event.type}`, JSON.stringify(event.data));
        if (event.type !== 'cdr.created' && !event.type.startsWith('campaign')) multi.publish('raw:callcenter_events', JSON.stringify(event.data));
        multi.set(`raw:{log}:dedup:${id}`, '1', { PX: 86_400_000 });
      }
      await multi.execAsPipeline();
      events += batch.length;
    }
  }));
  const cpu = meter.perEvent(events);
  await Promise.all(clients.map((client) => client.quit()));
  return { rate: events / DURATION_S, cpu };
}

async function batchedIntake() {
  section(`batched intake: ${BATCH} sandbox events per request, ${CONNECTIONS} connections, ${DURATION_S} s`);
  const redis = await startRedis();
  const batches = Array.from({ length: 20 }, (_, i) => sandboxEvents(BATCH, i + 1));
  const ceiling = await rawPipeline(redis, batches);
  const hub = await startHub(redis.url);
  let rssPeak = 0;
  const sampler = setInterval(async () => {
    rssPeak = Math.max(rssPeak, await metric(hub.url, 'switchboard_process_resident_memory_bytes').catch(() => 0));
  }, 500);
  let next = 0;
  const { result, meter } = await cannon(
    {
      url: `${hub.url}/v1/events`,
      requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(batches[next++ % batches.length]) }) }],
    },
    { hub: hub.pid, redis: redis.pid },
  );
  clearInterval(sampler);
  const eventsPerSecond = (result['2xx'] * BATCH) / DURATION_S;
  const ceilingName = 'raw node-redis pipeline, same commands';
  report({ name: 'batched intake (events/s)', value: eventsPerSecond, unit: 'ev/s', ceilingName, ceiling: ceiling.rate, goal: '≥ 0.50' });
  reportCpu({ name: 'batched intake', cpu: meter.perEvent(result['2xx'] * BATCH), ceilingName, ceilingCpu: ceiling.cpu });
  report({ name: 'batched intake request p99', value: result.latency.p99, unit: 'ms', goal: '(for information)' });
  if (result.non2xx > 0) console.log(`  !! ${result.non2xx} non-2xx answers`);
  report({ name: 'hub RSS under batched load (peak)', value: rssPeak / 1024 / 1024, unit: 'MiB', goal: '(for information)' });
  await hub.stop();
  await redis.close();
}

/** Single-event requests from many concurrent sources (diallers, PBXs), as intake sees them. */
const SINGLE_EVENT_CONNECTIONS = 32;

async function singleEventIntake() {
  section(`single-event intake: ${SINGLE_EVENT_CONNECTIONS} connections, ${DURATION_S} s`);
  const redis = await startRedis();
  const events = sandboxEvents(500);
  const bodies = events.map((event) => JSON.stringify(event));

  const barePort = await freePort();
  const bare = fork(new URL('./baseline/bare-intake.mjs', import.meta.url).pathname, [redis.url, String(barePort)], { stdio: 'inherit' });
  await once(bare, 'message');
  let next = 0;
  const requests = [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length] }) }];
  const { result: ceiling, meter: ceilingMeter } = await cannon({ url: `http://127.0.0.1:${barePort}/`, requests, connections: SINGLE_EVENT_CONNECTIONS }, { hub: bare.pid, redis: redis.pid });
  const ceilingCpu = ceilingMeter.perEvent(ceiling['2xx']);
  bare.kill('SIGTERM');
  await once(bare, 'exit');

  const hub = await startHub(redis.url);
  const { result, meter } = await cannon({ url: `${hub.url}/v1/events`, requests, connections: SINGLE_EVENT_CONNECTIONS }, { hub: hub.pid, redis: redis.pid });
  report({ name: 'single-event intake (requests/s)', value: result.requests.average, unit: 'req/s', ceilingName: 'bare node:http + one XADD', ceiling: ceiling.requests.average, goal: '≥ 0.60' });
  reportCpu({ name: 'single-event intake', cpu: meter.perEvent(result['2xx']), ceilingName: 'bare node:http + one XADD', ceilingCpu });
  report({ name: 'single-event intake request p99', value: result.latency.p99, unit: 'ms', ceilingName: 'bare node:http + one XADD', ceiling: ceiling.latency.p99, goal: '(for information)' });
  await hub.stop();
  await redis.close();
}

/** Open-loop sender: `rate` messages/s for `seconds`, calling `send(sequence)` on a fixed schedule. */
async function openLoop(rate, seconds, send) {
  const total = rate * seconds;
  const started = performance.now();
  const inFlight = [];
  for (let sequence = 0; sequence < total; sequence += 1) {
    const due = started + (sequence * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    inFlight.push(send(sequence));
  }
  await Promise.all(inFlight);
}

/**
 * Request → Pub/Sub latency at 5,000 events/s, as a dialler sends them: `perRequest` events per
 * request. With one event per request this 2-core machine cannot also run the load generator at
 * 5,000 requests/s, so the goal is judged on batches of 10 (500 requests/s); single-event
 * requests are reported at 2,000 requests/s for information.
 */
async function pubSubLatency(eventsPerSecond, perRequest, goal) {
  const rate = eventsPerSecond / perRequest;
  const seconds = Math.min(DURATION_S, 6);
  section(`request → Pub/Sub subscriber latency at ${eventsPerSecond} events/s (${rate} requests/s of ${perRequest}), ${seconds} s`);
  const redis = await startRedis();
  const subscriber = createClient({ url: redis.url, RESP: 2 });
  await subscriber.connect();
  const publisher = createClient({ url: redis.url, RESP: 2 });
  await publisher.connect();

  // Ceiling: PUBLISH straight from node-redis to a subscriber, same rate, after the same 1 s warm-up.
  const rawLatencies = [];
  await openLoop(eventsPerSecond, 1, () => publisher.publish('raw:warm-up', ''));
  await subscriber.subscribe('raw:latency', (message) => rawLatencies.push(performance.now() - Number(message)));
  await openLoop(eventsPerSecond, seconds, () => publisher.publish('raw:latency', String(performance.now())));
  await sleep(200);

  const hub = await startHub(redis.url);
  const sentAt = new Map();
  const latencies = [];
  await subscriber.pSubscribe('enigma:notifications:agents:*', (message) => {
    const { ref } = JSON.parse(message).payload;
    const start = sentAt.get(ref);
    if (start !== undefined) latencies.push(performance.now() - start);
  });
  const pool = new Pool(hub.url, { connections: 32, pipelining: 1 });
  const post = async (body) => (await pool.request({ path: '/v1/events', method: 'POST', headers: { 'content-type': 'application/json' }, body })).body.dump();
  const warmUp = JSON.stringify(Array.from({ length: perRequest }, () => ({ type: 'agent.status_changed', data: { agent: '999', status: 'available' } })));
  await openLoop(rate, 1, () => post(warmUp));
  await openLoop(rate, seconds, async (sequence) => {
    const now = performance.now();
    const events = Array.from({ length: perRequest }, (_, i) => {
      const ref = `lat-${sequence}-${i}`;
      sentAt.set(ref, now);
      return { type: 'agent.status_changed', data: { agent: String(1000 + ((sequence * perRequest + i) % 200)), status: 'available', ref } };
    });
    await post(JSON.stringify(perRequest === 1 ? events[0] : events));
  });
  await sleep(300);
  const sorted = latencies.sort((a, b) => a - b);
  const rawSorted = rawLatencies.sort((a, b) => a - b);
  report({ name: `request → subscriber p50 (${sorted.length} received)`, value: percentile(sorted, 50), unit: 'ms', ceilingName: 'raw publish → subscriber p50', ceiling: percentile(rawSorted, 50), goal: '(for information)' });
  report({ name: 'request → subscriber p99', value: percentile(sorted, 99), unit: 'ms', ceilingName: 'raw publish → subscriber p99', ceiling: percentile(rawSorted, 99), goal });
  await pool.close();
  await subscriber.quit();
  await publisher.quit();
  await hub.stop();
  await redis.close();
}

async function spool() {
  section(`spool: intake while Redis is down, then drain (${BATCH} events per request, ${CONNECTIONS} connections)`);
  const batches = Array.from({ length: 20 }, (_, i) => sandboxEvents(BATCH, i + 1));

  // Ceiling: the same SQLite settings and transactions, without HTTP.
  const db = new Database(join(tempDir(), 'ceiling.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec('CREATE TABLE spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, token TEXT NOT NULL)');
  const insert = db.prepare('INSERT INTO spool (event, token) VALUES (?, ?)');
  const insertMany = db.transaction((events) => { for (const event of events) insert.run(JSON.stringify(event), 'token'); });
  let rawEvents = 0;
  const rawMeter = cpuMeter({ hub: THIS_PROCESS, redis: [] });
  const rawDeadline = performance.now() + 3000;
  while (performance.now() < rawDeadline) {
    insertMany(batches[rawEvents % batches.length]);
    rawEvents += BATCH;
  }
  const rawCpu = rawMeter.perEvent(rawEvents);
  db.close();

  const redis = await startRedis();
  const hub = await startHub(redis.url);
  await redis.close();
  let next = 0;
  const { result, meter } = await cannon(
    {
      url: `${hub.url}/v1/events`,
      requests: [{ setupRequest: (request) => ({ ...request, body: JSON.stringify(batches[next++ % batches.length]) }) }],
    },
    { hub: hub.pid, redis: [] },
  );
  const spooled = await metric(hub.url, 'switchboard_spool_depth');
  report({ name: 'intake while Redis is down (events/s)', value: (result['2xx'] * BATCH) / DURATION_S, unit: 'ev/s', ceilingName: 'raw SQLite fsync per batch (3 s)', ceiling: rawEvents / 3, goal: '≥ 20,000 ev/s' });
  // Redis is down: only the hub works, and the ceiling's SQLite writes run in this process.
  report({ name: 'intake while Redis is down: hub CPU per event', value: meter.perEvent(result['2xx'] * BATCH).hubUs, unit: 'µs', ceilingName: 'raw SQLite (this process)', ceiling: rawCpu.hubUs, goal: 'lower is better' });
  if (result.non2xx > 0) console.log(`  !! ${result.non2xx} non-2xx answers`);

  const restarted = await LocalRedisServer.start({ port: redis.port, dir: redis.dir });
  const drainMeter = cpuMeter({ hub: hub.pid, redis: restarted.pid });
  const redisBack = performance.now();
  // The drain rate counts from the first drained batch; the wait before it (the client's
  // reconnect back-off) is reported on its own.
  let depth = spooled;
  while (depth === spooled) {
    await sleep(20);
    depth = await metric(hub.url, 'switchboard_spool_depth');
  }
  const drainStart = performance.now();
  const drainedBefore = spooled - depth;
  while ((await metric(hub.url, 'switchboard_spool_depth')) > 0) await sleep(100);
  const drainSeconds = (performance.now() - drainStart) / 1000;
  report({ name: 'spool drain: Redis back → first batch drained', value: drainStart - redisBack, unit: 'ms', goal: '(for information)' });
  report({ name: `spool drain after Redis returns (${spooled} events)`, value: (spooled - drainedBefore) / drainSeconds, unit: 'ev/s', goal: '≥ 50,000 ev/s' });
  reportCpu({ name: 'spool drain', cpu: drainMeter.perEvent(spooled) });
  await hub.stop();
  await restarted.close();
}

const only = process.env.BENCH_ONLY;
if (!only || only === 'batched') await batchedIntake();
if (!only || only === 'single') await singleEventIntake();
if (!only || only === 'latency') {
  await pubSubLatency(5000, 10, '≤ 3.00');
  await pubSubLatency(2000, 1, '(for information)');
}
if (!only || only === 'spool') await spool();
