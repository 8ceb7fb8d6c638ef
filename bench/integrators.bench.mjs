// CDR fan-out to 10 integrators: intake → append script → stream → XREADGROUP by each integrator's
// worker (the consumeCdrs helper), beside the raw ceiling measured in the same run: a node-redis
// client pipelining XADD to a stream with 10 consumer groups, read by 10 bare XREADGROUP loops.
import { performance } from 'node:perf_hooks';
import { createClient } from 'redis';
import { consumeCdrs } from '@switchboard/client';
import { parseConfig } from '../dist/config/load.js';
import { Hub } from '../dist/hub.js';
import { cpuMeter, percentile, report, reportCpu, section, startRedis, tempDir, THIS_PROCESS } from './lib.mjs';

const INTEGRATORS = 10;
const CDRS = 20_000;
const BATCH = 100;
const POSTERS = 4;
/** Second phase: a steady load well below saturation, for latency without queueing. */
const PACED_CDRS = 3_000;
const PACED_RATE = 1_000;
const PACED_BATCH = 10;
const TOKEN = 'bench-token-0123456789abcdef';

const cdr = (n) => ({
  id: `bench-${n}`,
  type: 'cdr.created',
  data: {
    call_id: `call-${n}`,
    number: '+442070000000',
    direction: 'outbound',
    dialed_at: '2026-11-21T10:00:00.000Z',
    disposition: 'answered',
    agent: '1002',
    campaign: 'spring-sale',
    duration_s: 42,
    ref: '',
  },
});

/** Counts what each integrator received; `finished` resolves when all have `total`. */
function tracker(total) {
  const counts = new Array(INTEGRATORS).fill(0);
  const latencies = [];
  let done;
  const finished = new Promise((resolve) => (done = resolve));
  return {
    finished,
    latencies,
    seen(index, sentAt) {
      latencies.push(performance.now() - sentAt);
      counts[index] += 1;
      if (counts.every((count) => count >= total)) done(performance.now());
    },
  };
}

/**
 * The two phases, on either path: saturated (throughput, and the CPU per CDR of `processes`) and
 * paced (latency without queueing).
 */
async function phases(setTracker, post, processes) {
  let track = tracker(CDRS);
  setTracker(track);
  const meter = cpuMeter(processes);
  const start = performance.now();
  await post(0, CDRS, BATCH, undefined);
  const end = await track.finished;
  const saturated = { rate: CDRS / ((end - start) / 1000), cpu: meter.perEvent(CDRS), latencies: track.latencies.sort((a, b) => a - b) };
  track = tracker(PACED_CDRS);
  setTracker(track);
  await post(CDRS, PACED_CDRS, PACED_BATCH, PACED_RATE);
  await track.finished;
  return { saturated, paced: { latencies: track.latencies.sort((a, b) => a - b) } };
}

/** Runs `send(from, count)` over `total` CDRs in batches, by POSTERS at once, paced to `rate` CDR/s if given. */
async function drive(total, batch, rate, send) {
  let next = 0;
  const start = performance.now();
  const poster = async () => {
    while (next < total) {
      const from = next;
      next += batch;
      if (rate) {
        const due = start + (from / rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      }
      await send(from, Math.min(batch, total - from));
    }
  };
  await Promise.all(Array.from({ length: POSTERS }, poster));
}

function postAll(url, offset, total, batch, rate) {
  return drive(total, batch, rate, async (from, count) => {
      const events = Array.from({ length: count }, (_, k) => cdr(offset + from + k));
      const sentAt = performance.now();
      for (const event of events) event.data.ref = String(sentAt);
      const response = await fetch(`${url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify(events),
      });
      if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
  });
}

async function hubRun() {
  const redis = await startRedis();
  const config = parseConfig({
    dataDir: tempDir(),
    logLevel: 'silent',
    keyPrefix: 'bench',
    http: { port: 0 },
    redis: { url: redis.url },
    auth: { apiToken: TOKEN },
  });
  const hub = await Hub.start(Object.freeze(config));
  const controller = new AbortController();
  try {
    for (let i = 0; i < INTEGRATORS; i += 1) {
      const response = await fetch(`${hub.url}/v1/integrators`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
        body: JSON.stringify({ name: `crm-${i}` }),
      });
      if (response.status !== 201) throw new Error(`registration answered ${response.status}`);
    }
    let track;
    const workers = Array.from({ length: INTEGRATORS }, (_, i) =>
      consumeCdrs({
        url: redis.url,
        keyPrefix: 'bench',
        integrator: `crm-${i}`,
        consumer: 'w1',
        count: 500,
        blockMs: 200,
        signal: controller.signal,
        handler: (entry) => track.seen(i, Number(entry.event.data.ref)),
      }),
    );
    const result = await phases((next) => (track = next), (offset, total, batch, rate) => postAll(hub.url, offset, total, batch, rate), { hub: THIS_PROCESS, redis: redis.pid });
    controller.abort();
    await Promise.all(workers);
    return result;
  } finally {
    controller.abort();
    await hub.close();
    await redis.close();
  }
}

async function rawRun() {
  const redis = await startRedis();
  const connect = async () => {
    const client = createClient({ url: redis.url, RESP: 2 });
    await client.connect();
    return client;
  };
  const producer = await connect();
  const stream = 'raw:{log}:cdr';
  for (let i = 0; i < INTEGRATORS; i += 1) await producer.sendCommand(['XGROUP', 'CREATE', stream, `g${i}`, '$', 'MKSTREAM']);
  let track;
  let stop = false;
  const readers = await Promise.all(Array.from({ length: INTEGRATORS }, connect));
  const loops = readers.map(async (client, i) => {
    while (!stop) {
      const reply = await client.sendCommand(['XREADGROUP', 'GROUP', `g${i}`, 'w1', 'COUNT', '500', 'BLOCK', '200', 'STREAMS', stream, '>']);
      const entries = reply?.[0]?.[1] ?? [];
      if (entries.length === 0) continue;
      for (const [, fields] of entries) track.seen(i, Number(JSON.parse(fields[5]).data.ref));
      await client.sendCommand(['XACK', stream, `g${i}`, ...entries.map(([id]) => id)]);
    }
  });
  const post = (offset, total, batch, rate) =>
    drive(total, batch, rate, (from, count) => {
      const sentAt = performance.now();
      return Promise.all(
        Array.from({ length: count }, (_, k) => {
          const event = cdr(offset + from + k);
          event.data.ref = String(sentAt);
          return producer.sendCommand(['XADD', stream, '*', 'id', event.id, 'type', event.type, 'event', JSON.stringify(event)]);
        }),
      );
    });
  const result = await phases((next) => (track = next), post, { hub: THIS_PROCESS, redis: redis.pid });
  stop = true;
  await Promise.all(loops);
  await Promise.all([producer, ...readers].map((client) => client.quit()));
  await redis.close();
  return result;
}

section(`integrators: ${CDRS.toLocaleString('en-US')} CDRs fanned out to ${INTEGRATORS} integrators (batches of ${BATCH}, ${POSTERS} posters), then ${PACED_RATE} CDR/s paced`);
const raw = await rawRun();
const hub = await hubRun();
report({ name: 'CDR fan-out, intake → every integrator (saturated)', value: hub.saturated.rate, unit: 'CDR/s', ceilingName: 'raw XADD/XREADGROUP', ceiling: raw.saturated.rate, goal: '≥ 0.25× raw' });
// The hub runs in this process, beside the posters and the integrators' workers; the ceiling's producer and readers run here too.
reportCpu({ name: 'CDR fan-out (per CDR)', cpu: hub.saturated.cpu, ceilingName: 'raw XADD/XREADGROUP', ceilingCpu: raw.saturated.cpu, hub: 'bench process (hub, posters, workers)' });
for (const [label, key, goals] of [['saturated', 'saturated', ['< 250 ms', '< 1000 ms']], [`${PACED_RATE}/s`, 'paced', ['< 20 ms', '< 100 ms']]]) {
  for (const [index, p] of [50, 99].entries()) {
    report({
      name: `latency p${p} post → XREADGROUP, ${label}`,
      value: percentile(hub[key].latencies, p),
      unit: 'ms',
      ceilingName: 'raw',
      ceiling: percentile(raw[key].latencies, p),
      goal: goals[index],
    });
  }
}
