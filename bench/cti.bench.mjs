// CTI cache: POST / GET / DELETE requests/s and p99 of Switchboard beside, in the same
// run and on the same machine, the original Express design (docs/contracts/cti-cache.md) with node-redis ( bench/baseline/
// cti-express.mjs) and bare node:http + one Redis call (bench/baseline/cti-bare-http.mjs).
// Each server runs in its own child process with its own fresh redis-server; autocannon drives
// them from this process. Switchboard does more per request than both: an atomic Lua allocation
// with lease bookkeeping (safe with several nodes), validation, metrics and a cti.* event in the
// event log for every store and hit (a second Switchboard with cti.recordEvents: false shows
// what those writes cost; bare node:http running Switchboard's own scripts, cti-bare-scripts.mjs,
// shows what the HTTP side costs; the last section shows the Redis CPU each operation takes).
// Noisy machines: compare figures from the same run only.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import { parseConfig } from '../dist/config/load.js';
import { CtiEventRenderer } from '../dist/cti/events.js';
import { CtiStore } from '../dist/cti/store.js';
import { createKeys } from '../dist/redis/keys.js';
import { waitForPort } from '../dist/redis/local-server.js';
import { cpuMeter, cpuSeconds, freePort, report, reportCpu, section, sleep, startRedis, tempDir } from './lib.mjs';

const DURATION_S = Number(process.env.CTI_BENCH_SECONDS ?? 5);
const CONNECTIONS = Number(process.env.CTI_BENCH_CONNECTIONS ?? 50);
const USER = 'system-x';
const PASSWORD = 'bench-password';
const AUTH = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const POOL_FIRST = 5551000000;
const POOL = Array.from({ length: 1000 }, (_, i) => String(POOL_FIRST + i));
const VALUE = { account: 'A-1234567', intent: 'billing', language: 'en', score: 42, verified: true };
const TTL_SECONDS = 600;

const here = (path) => fileURLToPath(new URL(path, import.meta.url));

/**
 * An append-only redis-server (everysec, as in production) without automatic AOF rewrites: a
 * rewrite is a forked child writing the whole dataset for seconds, and it would land in whichever
 * server's phase runs next on this machine, not in the phase that caused it.
 */
async function startBenchRedis() {
  const redis = await startRedis();
  const client = createClient({ url: redis.url });
  await client.connect();
  await client.configSet('auto-aof-rewrite-percentage', '0');
  await client.quit();
  return redis;
}

async function startServer(name, script, args, env) {
  const redis = await startBenchRedis();
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [script, ...args], {
    env: { PATH: process.env.PATH, ...env(redis.url, port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  try {
    await waitForPort(port, 15_000);
  } catch (error) {
    throw new Error(`${name} did not start: ${output}`, { cause: error });
  }
  return {
    name,
    url: `http://127.0.0.1:${port}`,
    processes: { hub: child.pid, redis: redis.pid },
    output: () => output,
    async close() {
      child.kill('SIGTERM');
      await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
      await redis.close();
    },
  };
}

function startSwitchboard(name = 'Switchboard', recordEvents = true) {
  const dir = tempDir();
  const configFile = join(dir, 'switchboard.yaml');
  writeFileSync(
    configFile,
    JSON.stringify({
      logLevel: 'warn',
      cti: { users: [{ username: USER, password: PASSWORD }], pools: { bench: [`${POOL[0]}-${POOL.at(-1)}`] }, ttlSeconds: TTL_SECONDS, recordEvents },
    }),
  );
  return startServer(name, here('../dist/cli/main.js'), ['start'], (redisUrl, port) => ({
    SWITCHBOARD_CONFIG: configFile,
    SWITCHBOARD_REDIS_URL: redisUrl,
    SWITCHBOARD_HTTP_PORT: String(port),
    SWITCHBOARD_DATA_DIR: join(dir, 'data'),
  }));
}

function startBaseline(name, file) {
  return startServer(name, here(`baseline/${file}`), [], (redisUrl, port) => ({
    PORT: String(port),
    REDIS_URL: redisUrl,
    POOL: POOL.join(','),
    TTL_SECONDS: String(TTL_SECONDS),
    CTI_USER: USER,
    CTI_PASSWORD: PASSWORD,
  }));
}

function run(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ connections: CONNECTIONS, pipelining: 1, ...options }, (error, result) =>
      error ? reject(error) : resolve(result),
    );
    autocannon.track(instance, { renderProgressBar: false, renderResultsTable: false, renderLatencyTable: false });
  });
}

/** POSTs with a fresh ANI each; returns the figures and every stored <dnis>:<ani>. */
async function postPhase(server, durationS, keys) {
  let ani = 0;
  const result = await run({
    url: server.url,
    duration: durationS,
    requests: [
      {
        method: 'POST',
        path: '/cticache/DNIS-ANI',
        headers: { authorization: AUTH, 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ value: VALUE, ani: `44${String(ani++).padStart(9, '0')}` }) }),
        onResponse: (status, body) => {
          if (status !== 201) return;
          const { dnis, ani: stored } = JSON.parse(body);
          keys.push(`${dnis}:${stored}`);
        },
      },
    ],
  });
  return figures(result);
}

async function getPhase(server, keys) {
  let index = 0;
  const result = await run({
    url: server.url,
    duration: DURATION_S,
    requests: [
      {
        method: 'GET',
        headers: { authorization: AUTH },
        setupRequest: (request) => ({ ...request, path: `/cticache/DNIS-ANI/${keys[index++ % keys.length]}` }),
      },
    ],
  });
  return figures(result);
}

/** Each stored entry is fetched and deleted once. */
async function deletePhase(server, keys) {
  let index = 0;
  const result = await run({
    url: server.url,
    amount: keys.length,
    requests: [
      {
        method: 'DELETE',
        headers: { authorization: AUTH },
        setupRequest: (request) => ({ ...request, path: `/cticache/DNIS-ANI/${keys[index++]}` }),
      },
    ],
  });
  return figures(result);
}

function figures(result) {
  const failed = result.non2xx + result.errors + result.timeouts;
  return { rps: result.requests.total / result.duration, p99: result.latency.p99, failed, total: result.requests.total };
}

/** One round: POST, GET then DELETE on each server in turn, so load on the machine hits all alike. */
async function round(servers, results) {
  const keys = new Map(servers.map((server) => [server, []]));
  for (const server of servers) await postPhase(server, 1, keys.get(server)); // warm-up; its entries feed the DELETEs
  for (const [op, phase] of [
    ['POST', (server) => postPhase(server, DURATION_S, keys.get(server))],
    ['GET', (server) => getPhase(server, keys.get(server))],
    ['DELETE', (server) => deletePhase(server, keys.get(server))],
  ]) {
    for (const server of servers) {
      const meter = cpuMeter(server.processes);
      const figure = await phase(server);
      figure.cpu = meter.perEvent(figure.total);
      console.log(
        `  ${server.name.padEnd(12)} ${op.padEnd(6)} ${Math.round(figure.rps).toLocaleString('en-US').padStart(8)} req/s   p99 ${String(figure.p99).padStart(4)} ms` +
          `   (${figure.total.toLocaleString('en-US')} requests${figure.failed ? `, ${figure.failed} FAILED` : ''})`,
      );
      // Best round per server and operation, the same rule for all three.
      const best = results[server.name][op];
      if (!best || figure.rps > best.rps) results[server.name][op] = figure;
    }
  }
}

const ROUNDS = Number(process.env.CTI_BENCH_ROUNDS ?? 2);
section(`CTI cache: ${CONNECTIONS} connections, ${DURATION_S} s per phase, best of ${ROUNDS} rounds, pool of ${POOL.length} numbers, fresh ANI per POST`);
const NO_EVENTS = 'SB no events';
const BARE_SCRIPTS = 'bare+scripts';
const servers = [
  await startSwitchboard(),
  // Diagnostic: what the cti.* event-log writes cost (the default records them).
  await startSwitchboard(NO_EVENTS, false),
  await startBaseline('Express', 'cti-express.mjs'),
  await startBaseline('bare http', 'cti-bare-http.mjs'),
  // Diagnostic: bare node:http doing Switchboard's Redis work (its scripts and events).
  await startBaseline(BARE_SCRIPTS, 'cti-bare-scripts.mjs'),
];
const results = Object.fromEntries(servers.map((server) => [server.name, {}]));
try {
  await sleep(200);
  for (let i = 0; i < ROUNDS; i += 1) await round(servers, results);
} finally {
  for (const server of servers) await server.close();
}

for (const op of ['POST', 'GET', 'DELETE']) {
  const ours = results.Switchboard[op];
  report({ name: `CTI ${op} req/s vs the Express design`, value: ours.rps, unit: 'req/s', ceilingName: 'Express + node-redis', ceiling: results.Express[op].rps, goal: '≥ 2.5' });
  report({ name: `CTI ${op} req/s vs bare node:http + 1 Redis call`, value: ours.rps, unit: 'req/s', ceilingName: 'bare node:http', ceiling: results['bare http'][op].rps, goal: '≥ 0.9' });
  // Per request, in the best round: the server's process and its own redis-server.
  reportCpu({ name: `CTI ${op} per request`, cpu: ours.cpu, ceilingName: 'Express + node-redis', ceilingCpu: results.Express[op].cpu });
  reportCpu({ name: `CTI ${op} per request`, cpu: ours.cpu, ceilingName: 'bare node:http', ceilingCpu: results['bare http'][op].cpu });
  report({ name: `CTI ${op} p99 latency`, value: ours.p99, unit: 'ms', ceilingName: 'Express p99', ceiling: results.Express[op].p99, goal: 'lower' });
  report({ name: `CTI ${op} p99 latency`, value: ours.p99, unit: 'ms', ceilingName: 'bare node:http p99', ceiling: results['bare http'][op].p99, goal: 'lower' });
  report({
    name: `CTI ${op} req/s vs bare node:http + Switchboard's scripts (diagnostic)`,
    value: ours.rps,
    unit: 'req/s',
    ceilingName: 'bare + same scripts',
    ceiling: results[BARE_SCRIPTS][op].rps,
    goal: 'info',
  });
  report({
    name: `CTI ${op} req/s, cti.recordEvents: false (diagnostic)`,
    value: results[NO_EVENTS][op].rps,
    unit: 'req/s',
    ceilingName: 'bare node:http',
    ceiling: results['bare http'][op].rps,
    goal: 'info',
  });
}

/**
 * Where the gap to bare node:http comes from: Redis CPU per operation (user + system time of the
 * redis-server process, from /proc), Switchboard's script beside the one plain command bare
 * node:http sends, with no HTTP in the way. On a small machine Redis shares the cores with the
 * server and the load generator, so this CPU is throughput lost.
 */
async function redisCostSection() {
  const CALLS = 30_000;
  section(`CTI cache: Redis CPU per operation, ${CALLS.toLocaleString('en-US')} calls each, 64 in flight, append-only Redis`);
  const redis = await startBenchRedis();
  const client = createClient({ url: redis.url });
  await client.connect();
  const measure = async (call) => {
    const before = cpuSeconds(redis.pid);
    let next = 0;
    await Promise.all(Array.from({ length: 64 }, async () => {
      while (next < CALLS) await call(next++);
    }));
    return ((cpuSeconds(redis.pid) - before) / CALLS) * 1e6;
  };
  const keys = createKeys(parseConfig({}));
  // Switchboard's own store: the same scripts and arguments as the hub sends.
  const store = new CtiStore(client, keys, new CtiEventRenderer(true, 1_000_000), 10_000);
  const pool = { name: 'bench', numbers: POOL, ttlSeconds: TTL_SECONDS };
  await store.sync([pool]);
  const value = JSON.stringify(VALUE);
  const ani = (i) => `44${String(i).padStart(9, '0')}`;
  const stored = [];
  try {
    const rows = [
      ['POST', await measure(async (i) => (stored[i] = await store.put(pool, ani(i), ani(i), value))), 'SET EX', await measure((i) => client.set(`bare:${i}`, value, { EX: TTL_SECONDS }))],
      ['GET', await measure((i) => store.get(pool, stored[i], ani(i), ani(i))), 'GET', await measure((i) => client.get(`bare:${i}`))],
      ['DELETE', await measure((i) => store.take(pool, stored[i], ani(i), ani(i))), 'GETDEL', await measure((i) => client.getDel(`bare:${i}`))],
    ];
    const logged = await client.xLen(keys.eventLog);
    if (logged !== 3 * CALLS) throw new Error(`expected ${3 * CALLS} cti.* events in the log, found ${logged}: not every call hit`);
    for (const [op, ours, plainName, plain] of rows) {
      report({ name: `CTI ${op}: Redis CPU per request (script + cti.* event)`, value: ours, unit: 'µs', ceilingName: `bare's ${plainName}`, ceiling: plain, goal: 'info' });
    }
  } finally {
    store.close();
    await client.quit();
    await redis.close();
  }
}

await redisCostSection();
