// Webhook failover: two hub processes (the built CLI) share one subscription; the owner is killed
// with SIGKILL ten times in turn. For each kill: the time from the kill to the first post by the
// new owner, beside the lease ttl it is bound by, and the events posted twice (at-least-once).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { freePort, percentile, report, section, sleep, startRedis, tempDir } from './lib.mjs';

const RUNS = Number(process.env.BENCH_FAILOVER_RUNS ?? 10);
const LEASE_TTL_MS = 3000;
const HEARTBEAT_MS = LEASE_TTL_MS / 3;
const STABLE_AFTER_MS = 1000;
const BATCH_MAX_EVENTS = 20;
const RECEIVER_DELAY_MS = 20;
const EVENT_EVERY_MS = 10;
const TOKEN = 'bench-token-0123456789abcdef';
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;

const redis = await startRedis();

// The receiver answers after a short delay, so a post is usually in flight when the owner dies.
const arrivals = [];
const receiver = createServer((request, response) => {
  const chunks = [];
  request.on('data', (chunk) => chunks.push(chunk));
  request.on('end', () => {
    arrivals.push({ at: performance.now(), ids: JSON.parse(Buffer.concat(chunks).toString()).map((object) => object.id) });
    setTimeout(() => response.writeHead(200).end(), RECEIVER_DELAY_MS);
  });
});
receiver.listen(0, '127.0.0.1');
await once(receiver, 'listening');
const receiverUrl = `http://127.0.0.1:${receiver.address().port}/hook`;

const hubs = new Map();

async function startHub(nodeId) {
  const dir = tempDir(`switchboard-failover-${nodeId}-`);
  const file = join(dir, 'switchboard.json');
  const port = await freePort();
  writeFileSync(
    file,
    JSON.stringify({
      keyPrefix: 'bfail',
      dataDir: dir,
      logLevel: 'error',
      redis: { url: redis.url },
      http: { port },
      auth: { apiToken: TOKEN },
      webhooks: { nodeId, leaseTtlMs: LEASE_TTL_MS, stableAfterMs: STABLE_AFTER_MS, allowPrivateTargets: true, batchMaxEvents: BATCH_MAX_EVENTS, batchLingerMs: 20, pollIntervalMs: 100 },
    }),
  );
  const child = spawn(process.execPath, [CLI, 'start', '--config', file], { stdio: 'ignore' });
  const hub = { nodeId, url: `http://127.0.0.1:${port}`, child, exited: once(child, 'exit') };
  hubs.set(nodeId, hub);
  await until(async () => (await fetch(`${hub.url}/healthz`).catch(() => undefined))?.ok === true, 20_000, `${nodeId} up`);
  return hub;
}

async function until(check, timeoutMs, what) {
  const deadline = performance.now() + timeoutMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

const api = async (hub, method, path, body) => {
  const response = await fetch(`${hub.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    ...(body ? { body: JSON.stringify(body) } : {}),
  });
  return response.json();
};

async function eligible(hub) {
  const body = await (await fetch(`${hub.url}/readyz`)).json();
  return body.checks.find((check) => check.name === 'webhooks')?.eligible === true;
}

await Promise.all([startHub('node-1'), startHub('node-2')]);
await until(async () => (await Promise.all([...hubs.values()].map(eligible))).every(Boolean), 20_000, 'both eligible');
const sub = await api(hubs.get('node-1'), 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiverUrl });
await until(async () => (await api(hubs.get('node-1'), 'GET', `/v1/subscriptions/${sub.id}`))['current-active-server'] !== '', 20_000, 'placed');

// A steady stream of CDRs through whichever hub is up.
let producing = true;
let sent = 0;
const accepted = new Set();
const producer = (async () => {
  for (let n = 0; producing; n += 1) {
    const live = [...hubs.values()];
    const hub = live[n % live.length];
    await fetch(`${hub.url}/v1/events`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ id: `fo-${n}`, type: 'cdr.created', data: { call_id: `c${n}`, number: '+1', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' } }),
    })
      .then((response) => {
        if (response.status !== 202) return;
        sent += 1;
        accepted.add(`fo-${n}`);
      })
      .catch(() => undefined);
    await sleep(EVENT_EVERY_MS);
  }
})();

const delays = [];
const duplicates = [];
section(`webhook failover: ${RUNS} × kill -9 of the owner (two hub processes, leaseTtlMs ${LEASE_TTL_MS}, heartbeat ${HEARTBEAT_MS} ms)`);
for (let run = 0; run < RUNS; run += 1) {
  const survivor = [...hubs.values()][0];
  const ownerId = (await api(survivor, 'GET', `/v1/subscriptions/${sub.id}`))['current-active-server'];
  const owner = hubs.get(ownerId);
  await sleep(300);
  const before = arrivals.length;
  const killedAt = performance.now();
  owner.child.kill('SIGKILL');
  await owner.exited;
  hubs.delete(ownerId);
  await until(() => arrivals.slice(before).some((arrival) => arrival.at > killedAt), 30_000, 'a post by the new owner');
  const first = arrivals.slice(before).find((arrival) => arrival.at > killedAt);
  delays.push(first.at - killedAt);
  // Let the new owner catch up, then count what was posted twice around this kill.
  const sentAtCatchUp = sent;
  await until(() => new Set(arrivals.flatMap((arrival) => arrival.ids)).size >= sentAtCatchUp, 30_000, 'caught up');
  const window = arrivals.slice(Math.max(0, before - 20)).flatMap((arrival) => arrival.ids);
  duplicates.push(window.length - new Set(window).size);
  console.log(`  run ${run + 1}: ${ownerId} killed → first post by the new owner after ${Math.round(first.at - killedAt)} ms, ${duplicates.at(-1)} events posted twice`);
  await startHub(ownerId);
  await until(() => eligible(hubs.get(ownerId)), 20_000, `${ownerId} eligible again`);
}
producing = false;
await producer;
// Whatever was accepted last is delivered within a few posts; give it time before counting losses.
await until(() => {
  const seen = new Set(arrivals.flatMap((arrival) => arrival.ids));
  return [...accepted].every((id) => seen.has(id));
}, 30_000, 'the last events').catch(() => undefined);

const received = new Set(arrivals.flatMap((arrival) => arrival.ids));
const lost = [...accepted].filter((id) => !received.has(id)).length;
delays.sort((a, b) => a - b);
report({ name: 'kill -9 → first post by the new owner, p50', value: percentile(delays, 50), unit: 'ms', ceilingName: 'lease ttl', ceiling: LEASE_TTL_MS, goal: '≤ ttl + heartbeat' });
report({ name: 'kill -9 → first post by the new owner, p99', value: percentile(delays, 99), unit: 'ms', ceilingName: 'lease ttl + heartbeat', ceiling: LEASE_TTL_MS + HEARTBEAT_MS, goal: '≤ 1.00' });
report({
  name: 'events posted twice per failover (mean)',
  value: duplicates.reduce((sum, value) => sum + value, 0) / duplicates.length,
  unit: 'events',
  ceilingName: 'one batch (batchMaxEvents)',
  ceiling: BATCH_MAX_EVENTS,
  goal: '≤ one batch',
});
report({ name: 'events posted twice per failover (max)', value: Math.max(...duplicates), unit: 'events', ceilingName: 'one batch (batchMaxEvents)', ceiling: BATCH_MAX_EVENTS, goal: '≤ one batch' });
report({ name: 'events lost', value: lost, unit: 'events', ceilingName: 'accepted', ceiling: sent, goal: '0' });

for (const hub of hubs.values()) {
  hub.child.kill('SIGKILL');
  await hub.exited;
}
receiver.close();
await redis.close();
if (lost !== 0) process.exit(1);
