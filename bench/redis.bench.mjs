// `npm run bench -- redis`: intake throughput, p99 and CPU per event (the hub's, and the data
// nodes' together) on the three Redis topologies, in one run, each beside the single node (the
// ceiling) with the ratio. The topologies are real processes on
// free ports, started as docs/deployment.md shows (no Docker).
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import { SandboxDialler } from '../dist/sandbox/dialler.js';
import { LocalRedisServer, isPortOpen, waitForPort } from '../dist/redis/local-server.js';
import { cpuMeter, freePort, medianCpu, report, reportCpu, section, sleep, tempDir } from './lib.mjs';

/** Seconds per measurement; each topology is measured ROUNDS times, alternating, and the median kept. */
const ROUND_S = Number(process.env.BENCH_DURATION_S ?? 4);
const ROUNDS = 3;
const CONNECTIONS = 8;
const BATCH = 100;
const SINGLE_EVENT_CONNECTIONS = 32;
const NODE_ARGS = ['--repl-diskless-sync-delay', '0', '--auto-aof-rewrite-percentage', '0'];

async function command(port, args) {
  const client = createClient({ socket: { port, host: '127.0.0.1', reconnectStrategy: false }, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

async function until(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function single() {
  const port = await freePort();
  const server = await LocalRedisServer.start({ port, dir: tempDir(), extraArgs: NODE_ARGS });
  return { env: { SWITCHBOARD_REDIS_URL: server.url }, pids: [server.pid], close: () => server.close() };
}

/** A master, 2 replicas, 3 Sentinels. */
async function sentinel() {
  const dir = tempDir();
  const masterPort = await freePort();
  const servers = [await LocalRedisServer.start({ port: masterPort, dir: join(dir, 'master'), extraArgs: NODE_ARGS })];
  for (const name of ['replica-1', 'replica-2']) {
    servers.push(await LocalRedisServer.start({ port: await freePort(), dir: join(dir, name), extraArgs: [...NODE_ARGS, '--replicaof', '127.0.0.1', String(masterPort)] }));
  }
  const sentinels = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, `sentinel monitor sb 127.0.0.1 ${masterPort} 2`, 'sentinel down-after-milliseconds sb 5000', ''].join('\n'));
    sentinels.push(await LocalRedisServer.launch(port, dir, [conf, '--sentinel', '--loglevel', 'warning', '--logfile', '']));
  }
  await until(async () => ((await command(sentinels[0].port, ['SENTINEL', 'REPLICAS', 'sb'])) ?? []).length === 2, 'the Sentinels to see the replicas');
  await until(async () => /connected_slaves:2/.test(String(await command(masterPort, ['INFO', 'replication']))) && !/wait_bgsave|send_bulk/.test(String(await command(masterPort, ['INFO', 'replication']))), 'the replicas to sync');
  return {
    env: { SWITCHBOARD_REDIS_SENTINELS: sentinels.map((s) => `127.0.0.1:${s.port}`).join(','), SWITCHBOARD_REDIS_SENTINEL_NAME: 'sb' },
    // The master and the replicas it streams to; the Sentinels only watch.
    pids: servers.map((server) => server.pid),
    async close() {
      await Promise.all([...sentinels, ...servers].map((server) => server.close()));
    },
  };
}

/** 3 cluster masters, slots spread by redis-cli --cluster create. */
async function cluster() {
  const dir = tempDir();
  const servers = [];
  while (servers.length < 3) {
    const port = await freePort();
    if (port + 10_000 > 65_535 || (await isPortOpen(port + 10_000))) continue;
    const nodeDir = join(dir, String(port));
    servers.push(await LocalRedisServer.start({ port, dir: nodeDir, extraArgs: [...NODE_ARGS, '--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', '5000'] }));
  }
  const nodes = servers.map((server) => `127.0.0.1:${server.port}`);
  await promisify(execFile)('redis-cli', ['--cluster', 'create', ...nodes, '--cluster-yes'], { timeout: 60_000 });
  await until(async () => (await Promise.all(servers.map((server) => command(server.port, ['CLUSTER', 'INFO'])))).every((info) => /cluster_state:ok/.test(String(info))), 'the cluster');
  return { env: { SWITCHBOARD_REDIS_CLUSTER_NODES: nodes.join(',') }, pids: servers.map((server) => server.pid), close: () => Promise.all(servers.map((server) => server.close())) };
}

async function startHub(env) {
  const port = await freePort();
  const child = spawn(new URL('../dist/cli/main.js', import.meta.url).pathname, ['start'], {
    env: { PATH: process.env.PATH, SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_DATA_DIR: tempDir(), SWITCHBOARD_LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errors = '';
  child.stderr.on('data', (chunk) => (errors += chunk));
  child.once('exit', (code) => code && console.error(`hub exited with ${code}:\n${errors}`));
  await waitForPort(port, 15_000);
  const url = `http://127.0.0.1:${port}`;
  await until(async () => (await fetch(`${url}/readyz`)).status === 200, 'the hub to be ready', 30_000);
  return {
    url,
    pid: child.pid,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function cannon(options, duration) {
  return new Promise((resolve, reject) =>
    autocannon({ duration, method: 'POST', headers: { 'content-type': 'application/json' }, ...options }, (error, result) => (error ? reject(error) : resolve(result))),
  );
}

/** The median result by events/s (the machine may be shared: rounds alternate between topologies). */
function median(results, eventsPerRequest) {
  const sorted = [...results].sort((a, b) => a['2xx'] - b['2xx']);
  const middle = sorted[Math.floor(sorted.length / 2)];
  return { eventsPerSecond: (middle['2xx'] * eventsPerRequest) / middle.duration, p99: middle.latency.p99, non2xx: results.reduce((sum, result) => sum + result.non2xx, 0) };
}

async function spooled(hubUrl) {
  const text = await (await fetch(`${hubUrl}/metrics`)).text();
  const value = (name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { spooled: value('switchboard_events_spooled_total'), shortfalls: value('switchboard_replica_ack_shortfalls_total') };
}

function sandboxBatches(count, size) {
  return Array.from({ length: count }, (_, i) => {
    const dialler = new SandboxDialler({ agents: 50, campaigns: 4, seed: i + 1 });
    const events = [];
    while (events.length < size) events.push(...dialler.next());
    return JSON.stringify(events.slice(0, size));
  });
}

const setups = [
  { name: 'single node', start: single, env: {} },
  { name: 'Sentinel, minReplicasAcked 0', start: sentinel, env: { SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED: '0' } },
  { name: 'Sentinel, minReplicasAcked 1', start: sentinel, env: { SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED: '1' } },
  { name: 'Cluster, 3 masters', start: cluster, env: {} },
];

const batched = sandboxBatches(20, BATCH);
const singles = JSON.parse(`[${sandboxBatches(1, 500)[0].slice(1, -1)}]`).map((event) => JSON.stringify(event));
// Every topology and its hub run side by side; the measurements alternate between them in rounds,
// so a busy moment of the machine does not land on one topology only.
const running = [];
for (const setup of setups) {
  const topology = setup.start === sentinel && running.some((other) => other.setup.start === sentinel) ? running.find((other) => other.setup.start === sentinel).topology : await setup.start();
  const hub = await startHub({ ...topology.env, ...setup.env, SWITCHBOARD_KEY_PREFIX: `bench${running.length}` });
  running.push({ setup, topology, hub, batch: [], single: [], cpu: { batch: [], single: [] } });
}
let next = 0;
const batchRequests = [{ setupRequest: (request) => ({ ...request, body: batched[next++ % batched.length] }) }];
const singleRequests = [{ setupRequest: (request) => ({ ...request, body: singles[next++ % singles.length] }) }];
for (const entry of running) {
  // The same warm-up for every hub, so JIT compilation is not measured.
  await cannon({ url: `${entry.hub.url}/v1/events`, connections: CONNECTIONS, requests: batchRequests }, 2);
  await cannon({ url: `${entry.hub.url}/v1/events`, connections: SINGLE_EVENT_CONNECTIONS, requests: singleRequests }, 1);
}
for (let round = 0; round < ROUNDS; round += 1) {
  for (const entry of running) {
    const processes = { hub: entry.hub.pid, redis: entry.topology.pids };
    let meter = cpuMeter(processes);
    entry.batch.push(await cannon({ url: `${entry.hub.url}/v1/events`, connections: CONNECTIONS, requests: batchRequests }, ROUND_S));
    entry.cpu.batch.push(meter.perEvent(entry.batch.at(-1)['2xx'] * BATCH));
    meter = cpuMeter(processes);
    entry.single.push(await cannon({ url: `${entry.hub.url}/v1/events`, connections: SINGLE_EVENT_CONNECTIONS, requests: singleRequests }, ROUND_S));
    entry.cpu.single.push(meter.perEvent(entry.single.at(-1)['2xx']));
  }
}
const results = [];
for (const entry of running) {
  results.push({
    setup: entry.setup,
    batchResult: median(entry.batch, BATCH),
    singleResult: median(entry.single, 1),
    batchCpu: medianCpu(entry.cpu.batch),
    singleCpu: medianCpu(entry.cpu.single),
    spool: await spooled(entry.hub.url),
  });
  await entry.hub.stop();
}
for (const topology of new Set(running.map((entry) => entry.topology))) await topology.close();

const [base] = results;
section(`batched intake: ${BATCH} sandbox events per request, ${CONNECTIONS} connections; median of ${ROUNDS} rounds of ${ROUND_S} s, topologies alternating`);
for (const { setup, batchResult, batchCpu } of results) {
  report({ name: `${setup.name} (events/s)`, value: batchResult.eventsPerSecond, unit: 'ev/s', ceilingName: 'single node', ceiling: base.batchResult.eventsPerSecond, goal: setup.name.endsWith('minReplicasAcked 1') ? '≥ 0.70' : '(for information)' });
  reportCpu({ name: setup.name, cpu: batchCpu, ceilingName: 'single node', ceilingCpu: base.batchCpu });
  report({ name: `${setup.name} request p99`, value: batchResult.p99, unit: 'ms', ceilingName: 'single node', ceiling: base.batchResult.p99, goal: '(for information)' });
}
section(`single-event intake: ${SINGLE_EVENT_CONNECTIONS} connections; median of ${ROUNDS} rounds of ${ROUND_S} s, topologies alternating`);
for (const { setup, singleResult, singleCpu } of results) {
  report({ name: `${setup.name} (events/s)`, value: singleResult.eventsPerSecond, unit: 'ev/s', ceilingName: 'single node', ceiling: base.singleResult.eventsPerSecond, goal: setup.name.endsWith('minReplicasAcked 1') ? '≥ 0.70' : '(for information)' });
  reportCpu({ name: setup.name, cpu: singleCpu, ceilingName: 'single node', ceilingCpu: base.singleCpu });
  report({ name: `${setup.name} request p99`, value: singleResult.p99, unit: 'ms', ceilingName: 'single node', ceiling: base.singleResult.p99, goal: '(for information)' });
}
section('events that went to the spool during the run (Redis slower than redis.commandTimeoutMs, or replicas short)');
for (const { setup, spool, batchResult, singleResult } of results) {
  console.log(`  ${setup.name.padEnd(32)} spooled ${spool.spooled}, batches short of replicas ${spool.shortfalls}, non-2xx ${batchResult.non2xx + singleResult.non2xx}`);
}
section('load on the machine while measuring (a shared machine makes every figure noisier)');
console.log(`  load average ${loadavg().map((load) => load.toFixed(1)).join(' ')}`);
