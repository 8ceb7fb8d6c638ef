// `npm run bench -- live`: the event stream and the live projection. The hub runs in this
// process; the load generator and the stream readers run in a child (live-client.mjs), so the
// two do not share an event loop. Each figure is printed beside its ceiling from the same run.
import { fork } from 'node:child_process';
import os from 'node:os';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfig } from '../dist/config/load.js';
import { Hub } from '../dist/hub.js';
import { LogEntry } from '../dist/log/codec.js';
import { AlertWatcher } from '../dist/live/alerts.js';
import { LiveProjection } from '../dist/live/projection.js';
import { SandboxDialler } from '../dist/sandbox/dialler.js';
import { cpuMeter, report, reportCpu, section, sleep, startRedis, tempDir, THIS_PROCESS } from './lib.mjs';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const TOKEN = 'bench-token-0123456789abcdef';
const RATE = 1000;
const SECONDS = 10;
const CLIENTS = 1000;

const client = fork(new URL('./live-client.mjs', import.meta.url).pathname, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
await once(client, 'message');
const ask = async (command, args = {}) => {
  client.send({ command, args });
  const [reply] = await once(client, 'message');
  if (!reply.ok) throw new Error(reply.error);
  return reply;
};

const redis = await startRedis();
const hub = await Hub.start(
  Object.freeze(
    parseConfig({
      dataDir: tempDir(),
      logLevel: 'silent',
      keyPrefix: 'bench-live',
      http: { port: 0 },
      redis: { url: redis.url },
      auth: { apiToken: TOKEN },
      stream: { maxClients: CLIENTS + 10, heartbeatMs: 15_000 },
      profiles: { enigma: { enabled: false }, newfies: { enabled: false } },
      webhooks: { enabled: false },
    }),
  ),
);

try {
  section(`intake → SSE client latency at ${RATE} events/s for ${SECONDS} s (one request per 10 ms; load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  // CPU per event: the ceiling's publisher and subscriber run in the child; the hub runs here (the SSE run's load and reader are in the child, not counted).
  let meter = cpuMeter({ hub: client.pid, redis: redis.pid });
  const raw = await ask('pubsub', { redisUrl: redis.url, rate: RATE, seconds: SECONDS });
  const rawCpu = meter.perEvent(raw.sent);
  meter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  const sse = await ask('sse', { hubUrl: hub.url, token: TOKEN, rate: RATE, seconds: SECONDS });
  const sseCpu = meter.perEvent(sse.sent);
  console.log(`  received ${sse.count} of ${sse.sent} events over SSE; ${raw.count} of ${raw.sent} over raw Pub/Sub`);
  report({ name: 'intake → SSE latency p50', value: sse.p50, unit: 'ms', ceilingName: 'raw PUBLISH → subscriber p50', ceiling: raw.p50 });
  report({ name: 'intake → SSE latency p99', value: sse.p99, unit: 'ms', ceilingName: 'raw PUBLISH → subscriber p99', ceiling: raw.p99, goal: 'ratio ≤ 3' });
  // Where the time goes: the intake's own answer (202, durable) is part of every event's path.
  report({ name: 'intake → SSE latency p99', value: sse.p99, unit: 'ms', ceilingName: 'the intake request alone (→ 202) p99', ceiling: sse.intakeP99 });
  report({ name: 'intake → SSE latency p50', value: sse.p50, unit: 'ms', ceilingName: 'the intake request alone (→ 202) p50', ceiling: sse.intakeP50 });
  reportCpu({ name: `intake → SSE at ${RATE} events/s`, cpu: sseCpu, ceilingName: 'raw PUBLISH → subscriber', ceilingCpu: rawCpu });

  // The section keeps its title (bench/compare.mjs matches figures by it); since the activity,
  // intervals and alerts the traffic is 50 ms apart and every alert is on.
  section('live projection: cost per event (sandbox traffic, decode included)');
  const dialler = new SandboxDialler({ agents: 200, campaigns: 10, seed: 3 });
  const events = [];
  while (events.length < 200_000) events.push(...dialler.next());
  // Spread over the last few hours (crossing interval boundaries), so activity times, intervals and alerts all move.
  const firstMs = Date.now() - events.length * 50;
  const time = new Date().toISOString();
  const entries = events.map((event, i) => new LogEntry(`${1_000_000 + i}-0`, `e${i}`, event.type, JSON.stringify({ id: `e${i}`, time: new Date(firstMs + i * 50).toISOString(), ...event })));
  const fresh = () => entries.map((entry) => new LogEntry(entry.position, entry.id, entry.type, entry.json));
  let batch = fresh();
  let started = performance.now();
  for (const entry of batch) JSON.parse(entry.json);
  const parseUs = ((performance.now() - started) * 1000) / batch.length;
  batch = fresh();
  const queueAlerts = { alerts: { serviceLevelBelowPct: 80, longestWaitOverS: 60 } };
  const liveConfig = parseConfig({
    live: {
      timeZone: 'Africa/Johannesburg',
      queues: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`campaign-${i + 1}-queue`, queueAlerts])),
      alerts: { afterCallWorkOverS: 60, notReadyOverS: 300 },
    },
  }).live;
  const projection = new LiveProjection(liveConfig);
  started = performance.now();
  for (let i = 0; i < batch.length; i += 500) projection.deliver(batch.slice(i, i + 500));
  const projectUs = ((performance.now() - started) * 1000) / batch.length;
  report({ name: `projection per event (${batch.length.toLocaleString('en-US')} events)`, value: projectUs, unit: 'µs', ceilingName: 'JSON.parse of the entry alone', ceiling: parseUs });
  report({ name: 'projection throughput', value: 1e6 / projectUs, unit: 'events/s', ceilingName: 'JSON.parse alone', ceiling: 1e6 / parseUs });
  // The live component's alert check runs every 250 ms: its cost on this state (200 agents, 10 queues).
  const watcher = new AlertWatcher(projection);
  const checks = 1000;
  started = performance.now();
  for (let i = 0; i < checks; i += 1) watcher.check(Date.now());
  report({ name: 'alert check (every 250 ms)', value: ((performance.now() - started) * 1000) / checks, unit: 'µs', ceilingName: 'JSON.parse of 1 entry', ceiling: parseUs });

  section(`${CLIENTS} SSE clients on one hub`);
  gc();
  const before = process.memoryUsage();
  await ask('open', { url: `${hub.url}/v1/stream?types=agent.status_changed`, token: TOKEN, clients: CLIENTS });
  await sleep(1000);
  gc();
  const after = process.memoryUsage();
  // RSS moves with the allocator's pages; the JS heap and external buffers are what the clients hold.
  const heapPerClientKiB = (after.heapUsed + after.external - before.heapUsed - before.external) / CLIENTS / 1024;
  report({ name: 'memory per SSE client (JS heap + external)', value: heapPerClientKiB, unit: 'KiB' });
  console.log(`  RSS ${(before.rss / 1048576).toFixed(0)} → ${(after.rss / 1048576).toFixed(0)} MiB with ${CLIENTS} clients open`);

  const EVENTS = 2000;
  const batchOf = (from, count) =>
    Array.from({ length: count }, (_, i) => ({ type: 'agent.status_changed', data: { agent: String(1000 + ((from + i) % 200)), status: (from + i) % 2 ? 'available' : 'busy' } }));
  // Per event message written (one event to one client): the hub, with the POSTs, in this process; the readers in the child.
  let deliveryMeter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  started = performance.now();
  for (let sent = 0; sent < EVENTS; sent += 100) {
    const response = await fetch(`${hub.url}/v1/events`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(batchOf(sent, 100)) });
    if (response.status !== 202) throw new Error(`intake answered ${response.status}`);
  }
  const expected = EVENTS * CLIENTS;
  let frames = 0;
  const deadline = Date.now() + 120_000;
  while ((frames = (await ask('frames')).frames) < expected && Date.now() < deadline) await sleep(50);
  const hubSeconds = (performance.now() - started) / 1000;
  const deliveryCpu = deliveryMeter.perEvent(frames);
  await ask('closeAll');
  console.log(`  ${frames.toLocaleString('en-US')} of ${expected.toLocaleString('en-US')} event messages delivered in ${hubSeconds.toFixed(2)} s`);

  // Ceiling: a bare node:http server writing the same frames to the same number of readers.
  const frame = `id: 1764689000000-0\nevent: agent.status_changed\ndata: ${JSON.stringify({ id: '0190d1a0-0000-7000-8000-000000000000', type: 'agent.status_changed', time, data: { agent: '1001', status: 'busy' } })}\n\n`;
  const sockets = [];
  const bare = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(': open\n\n');
    sockets.push(res);
  });
  await new Promise((resolve) => bare.listen(0, '127.0.0.1', resolve));
  await ask('open', { url: `http://127.0.0.1:${bare.address().port}/`, token: TOKEN, clients: CLIENTS });
  while (sockets.length < CLIENTS) await sleep(10);
  deliveryMeter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
  started = performance.now();
  for (let sent = 0; sent < EVENTS; sent += 100) {
    const chunk = frame.repeat(100);
    for (const socket of sockets) socket.write(chunk);
    await new Promise((resolve) => setImmediate(resolve));
  }
  let bareFrames = 0;
  const bareDeadline = Date.now() + 120_000;
  while ((bareFrames = (await ask('frames')).frames) < expected && Date.now() < bareDeadline) await sleep(50);
  const bareSeconds = (performance.now() - started) / 1000;
  const bareCpu = deliveryMeter.perEvent(bareFrames);
  await ask('closeAll');
  for (const socket of sockets) socket.end();
  bare.closeAllConnections();
  bare.close();
  report({
    name: `delivery to ${CLIENTS} clients (intake → every stream)`,
    value: frames / hubSeconds,
    unit: 'events/s',
    ceilingName: 'bare node:http writing the frames',
    ceiling: bareFrames / bareSeconds,
  });
  reportCpu({ name: `delivery to ${CLIENTS} clients, per event message`, cpu: deliveryCpu, ceilingName: 'bare node:http writing the frames', ceilingCpu: bareCpu, hub: 'bench process (hub)' });
} finally {
  client.kill();
  await hub.close();
  await redis.close();
}
