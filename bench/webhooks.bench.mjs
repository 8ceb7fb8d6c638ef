// Event-subscription (webhook) benchmarks. Each figure is printed beside the raw undici
// Pool ceiling measured in the same run against the same receiver (a child process).
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { Pool } from 'undici';
import { parseConfig } from '../dist/config/load.js';
import { Hub } from '../dist/hub.js';
import { MatchIndex } from '../dist/webhooks/delivery/dispatcher.js';
import { generateSecret } from '../dist/webhooks/delivery/signing.js';
import { slotOf, SubscriptionStore } from '../dist/webhooks/store.js';
import { cpuMeter, report, reportCpu, section, sleep, startRedis, tempDir, THIS_PROCESS } from './lib.mjs';

const benchStarted = performance.now();
const TOKEN = 'bench-token-0123456789abcdef';
const CONNECTIONS = 16;
const SUBSCRIPTIONS = 100;

const receiverProcess = fork(new URL('./webhooks-receiver.mjs', import.meta.url).pathname, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
const [{ port }] = await once(receiverProcess, 'message');
const receiverUrl = `http://127.0.0.1:${port}/hook`;
const ask = async (message) => {
  receiverProcess.send(message);
  const [reply] = await once(receiverProcess, 'message');
  return reply;
};

const redis = await startRedis();
/** The hubs here run in this process, beside the bench's own work (the receiver has its own). */
const IN_PROCESS_HUB = 'bench process (hub)';

function event(n, domain = 'bench.example') {
  return {
    id: `ev-${domain}-${n}-${Math.random().toString(36).slice(2)}`,
    type: 'agent.status_changed',
    time: new Date().toISOString(),
    source: 'bench',
    scope: { reseller: 'r1', domain, user: String(1000 + (n % 50)) },
    data: { agent: String(1000 + (n % 50)), status: n % 2 ? 'available' : 'busy', campaign: 'spring-sale' },
  };
}

/** A model object as the hub posts it, for the ceiling's bodies. */
const modelObject = (n) => JSON.stringify({ model: 'agent', seq: `${Date.now()}-${n}`, ...event(n) });
const body = (size) => `[${Array.from({ length: size }, (_, n) => modelObject(n)).join(',')}]`;

/** Raw ceiling: the same posts (body size, headers, concurrency) from a bare undici Pool in this process; posts/s and CPU per event. */
async function rawPosts(batchSize, totalPosts) {
  const pool = new Pool(`http://127.0.0.1:${port}`, { connections: CONNECTIONS });
  const payload = body(batchSize);
  const headers = { 'content-type': 'application/json', 'webhook-id': 'msg_x', 'webhook-timestamp': '1', 'webhook-signature': 'v1,' + 'x'.repeat(44), 'x-correlation-id': 'x'.repeat(32) };
  let sent = 0;
  const meter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  const started = performance.now();
  await Promise.all(
    Array.from({ length: SUBSCRIPTIONS }, async () => {
      while (sent < totalPosts) {
        sent += 1;
        const response = await pool.request({ method: 'POST', path: '/hook', headers, body: payload });
        await response.body.dump();
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const cpu = meter.perEvent(totalPosts * batchSize);
  await pool.close();
  return { rate: totalPosts / seconds, cpu };
}

async function startBenchHub(keyPrefix, webhooks) {
  const config = parseConfig({
    dataDir: tempDir(),
    logLevel: 'silent',
    keyPrefix,
    http: { port: 0, maxBatchEvents: 10_000, bodyLimitBytes: 16 * 1024 * 1024 },
    redis: { url: redis.url },
    auth: { apiToken: TOKEN },
    profiles: { enigma: { enabled: false }, newfies: { enabled: false } },
    webhooks: { allowPrivateTargets: true, connectionsPerOrigin: CONNECTIONS, leaseTtlMs: 15_000, pollIntervalMs: 200, ...webhooks },
  });
  return Hub.start(Object.freeze(config));
}

async function subscribe(hub, count, domainOf, concurrency = 32) {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const n = next++;
        const response = await fetch(`${hub.url}/v1/subscriptions`, {
          method: 'POST',
          headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'agent', 'post-url': `${receiverUrl}?s=${n}`, domain: domainOf(n) }),
        });
        if (response.status !== 200) throw new Error(`subscription ${n}: ${response.status} ${await response.text()}`);
      }
    }),
  );
}

/** Many subscriptions straight through the store (the API path is measured above); the hub picks them up from the change feed. */
async function bulkSubscribe(hub, count, domainOf) {
  const store = new SubscriptionStore(hub.context.redis, hub.context.keys);
  const [last] = await hub.context.redis.sendCommand(['XREVRANGE', hub.context.keys.eventLog, '+', '-', 'COUNT', '1']);
  let next = 0;
  await Promise.all(
    Array.from({ length: 128 }, async () => {
      while (next < count) {
        const n = next++;
        const id = randomBytes(16).toString('hex');
        const createdAt = new Date().toISOString();
        await store.create(
          { id, model: 'agent', postUrl: `${receiverUrl}?bulk=${n}`, reseller: '*', domain: domainOf(n), user: '*', geoSupport: 'yes', createdAt, expiresAt: '2046-01-01T00:00:00.000Z', slot: slotOf(id, 64), secret: generateSecret() },
          last?.[0] ?? '0-0',
        );
      }
    }),
  );
}

/**
 * Appends `events` to the log (in chunks, as intake would) and waits until `expected` events were
 * received: events/s delivered, and CPU per delivered event of this process (the hub runs in it)
 * and of redis-server.
 */
async function delivered(hub, events, expected) {
  await ask('reset');
  const meter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  const started = performance.now();
  for (let start = 0; start < events.length; start += 2000) await hub.context.appender.append(events.slice(start, start + 2000));
  for (;;) {
    const { events: received } = await ask('count');
    if (received >= expected) break;
    if (performance.now() - started > 60_000) throw new Error(`only ${received} of ${expected} events delivered in 60 s`);
    await sleep(5);
  }
  return { rate: expected / ((performance.now() - started) / 1000), cpu: meter.perEvent(expected) };
}

async function ready(hub, subscriptions) {
  const deadline = Date.now() + 30_000;
  while (hub.server && Date.now() < deadline) {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    const owned = Number(text.match(/^switchboard_webhook_subscriptions_owned (\S+)$/m)?.[1] ?? 0);
    if (owned >= subscriptions) break;
    await sleep(100);
  }
  await sleep(500);
}

section('webhooks: delivery to 100 subscriptions (one receiver origin, 16 connections)');
{
  const hub = await startBenchHub('bw50', { batchMaxEvents: 50, batchLingerMs: 5 });
  await subscribe(hub, SUBSCRIPTIONS, () => 'bench.example');
  await ready(hub, SUBSCRIPTIONS);
  const events = Array.from({ length: 4000 }, (_, n) => event(n));
  const measured = await delivered(hub, events, events.length * SUBSCRIPTIONS);
  const raw = await rawPosts(50, 4000);
  report({ name: 'events/s delivered, 100 subs, batches of 50', value: measured.rate, unit: 'events/s', ceilingName: 'raw undici Pool', ceiling: raw.rate * 50, goal: '≥ 0.25' });
  reportCpu({ name: 'delivered, batches of 50', cpu: measured.cpu, ceilingName: 'raw undici Pool', ceilingCpu: raw.cpu, hub: IN_PROCESS_HUB });
  await hub.close();
}
{
  const hub = await startBenchHub('bw1', { batchMaxEvents: 1, batchLingerMs: 0 });
  await subscribe(hub, SUBSCRIPTIONS, () => 'bench.example');
  await ready(hub, SUBSCRIPTIONS);
  const events = Array.from({ length: 200 }, (_, n) => event(n));
  const measured = await delivered(hub, events, events.length * SUBSCRIPTIONS);
  const raw = await rawPosts(1, 20_000);
  report({ name: 'posts/s, one event per post, 100 subs', value: measured.rate, unit: 'posts/s', ceilingName: 'raw undici Pool', ceiling: raw.rate, goal: '≥ 0.2' });
  reportCpu({ name: 'one event per post', cpu: measured.cpu, ceilingName: 'raw undici Pool', ceilingCpu: raw.cpu, hub: IN_PROCESS_HUB });
  await hub.close();
}

section('webhooks: matching cost of non-matching subscriptions');
{
  // End to end: 10 matching subscriptions, alone and beside 10,000 that match nothing (other domains).
  const hub = await startBenchHub('bwm', { batchMaxEvents: 50, batchLingerMs: 5, slots: 64 });
  await subscribe(hub, 10, () => 'bench.example');
  await ready(hub, 10);
  const events = Array.from({ length: 25_000 }, (_, n) => event(n));
  await delivered(hub, events.slice(0, 5000), 5000 * 10);
  const alone = await delivered(hub, events.slice(5000, 15_000), 10_000 * 10);
  await bulkSubscribe(hub, 10_000, (n) => `other-${n}.example`);
  await ready(hub, 10_010);
  const crowded = await delivered(hub, events.slice(15_000), 10_000 * 10);
  report({ name: 'cost per event, 10 + 10,000 non-matching subs', value: alone.rate / crowded.rate, unit: '× of 10 subs', ceilingName: '10 subs only', ceiling: 1, goal: '≤ 1.5' });
  reportCpu({ name: '10 + 10,000 non-matching subs', cpu: crowded.cpu, ceilingName: '10 subs only', ceilingCpu: alone.cpu, hub: IN_PROCESS_HUB });
  await hub.close();

  // The matcher alone, in-process: index lookups per event.
  const index = (extra) => {
    const matcher = new MatchIndex();
    const def = (n, domain) => ({ def: { id: String(n), model: 'agent', reseller: '*', domain, user: '*' } });
    for (let n = 0; n < 10; n += 1) matcher.add(def(n, 'bench.example'));
    for (let n = 0; n < extra; n += 1) matcher.add(def(10 + n, `other-${n}.example`));
    return matcher;
  };
  const timeMatch = (matcher) => {
    const sample = Array.from({ length: 1000 }, (_, n) => event(n));
    let hits = 0;
    const started = performance.now();
    for (let round = 0; round < 200; round += 1) for (const item of sample) matcher.match(item, () => (hits += 1));
    return ((performance.now() - started) * 1e6) / (200 * sample.length);
  };
  const small = index(0);
  const large = index(10_000);
  // Best of several rounds: the figure is the matcher's cost, not the scheduler's noise.
  let smallNs = Infinity;
  let largeNs = Infinity;
  for (let round = 0; round < 7; round += 1) {
    smallNs = Math.min(smallNs, timeMatch(small));
    largeNs = Math.min(largeNs, timeMatch(large));
  }
  report({ name: 'matcher ns/event, 10 + 10,000 non-matching subs', value: largeNs, unit: 'ns/event', ceilingName: '10 subs only', ceiling: smallNs, goal: '≤ 1.5' });
}

receiverProcess.kill();
await redis.close();
console.log(`(webhooks bench took ${((performance.now() - benchStarted) / 1000).toFixed(0)} s)`);
process.exit(0);
