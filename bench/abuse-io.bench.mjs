// `npm run bench -- abuse`: hostile volume against the hub's buffers (docs/security.md), full size.
// The hub runs as the built CLI in a child process, so its memory (/proc/<pid>/status VmHWM, reset
// through clear_refs before each attack) and CPU (/proc/<pid>/stat) are its own. Each figure is
// printed beside its ceiling from the same run: the documented budget, or the same measure with
// no attack going on.
//   1. SSE readers that never read while 36 MB of events flow (150, then 600 readers).
//   2. A 150k-agent `callcenter_config agent list` resync from a loopback FreeSWITCH.
//   3. A FreeSWITCH that drops every session right after the handshake and resync, for 6 s.
//   4. A spool that grew to 1.8 MB, reopened under spool.maxBytes 150 kB.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { createClient } from 'redis';
import { LocalRedisServer, waitForPort } from '../dist/redis/local-server.js';
import { cpuSeconds, freePort, report, section, sleep, startRedis, tempDir } from './lib.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const CLI = new URL('../dist/cli/main.js', import.meta.url).pathname;
const MiB = 1024 * 1024;
const RESYNC_AGENTS = Number(process.env.BENCH_ABUSE_AGENTS ?? 150_000);
/** BENCH_ABUSE_PARTS=sse,resync,storm,spool (default: all). */
const PARTS = (process.env.BENCH_ABUSE_PARTS ?? 'sse,resync,storm,spool').split(',');

// ---- the hub in a child process ----------------------------------------------------------------

async function startHub(config) {
  const port = await freePort();
  const dataDir = config.dataDir ?? tempDir();
  const file = join(tempDir('switchboard-bench-config-'), 'switchboard.json');
  writeFileSync(file, JSON.stringify({ logLevel: 'warn', keyPrefix: 'bench-abuse', ...config, dataDir, http: { port }, auth: { apiToken: TOKEN } }));
  const child = spawn(process.execPath, [CLI, 'start'], { env: { PATH: process.env.PATH ?? '', SWITCHBOARD_CONFIG: file }, stdio: ['ignore', 'ignore', 'pipe'] });
  let output = '';
  child.stderr.on('data', (chunk) => (output += chunk));
  await waitForPort(port, 60_000);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid,
    dataDir,
    output: () => output,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

/** Bytes of a /proc/<pid>/status field. */
function memory(pid, field) {
  return Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;
}

/** Resets VmHWM to the current RSS (proc(5), clear_refs). */
function resetPeak(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

async function post(url, events) {
  const started = performance.now();
  const response = await fetch(`${url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
    body: JSON.stringify(events),
  });
  await response.arrayBuffer();
  return { status: response.status, ms: performance.now() - started };
}

async function metric(url, pattern) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(pattern)?.[1] ?? 0);
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

function padded(id) {
  return { id, type: 'agent.status_changed', data: { agent: '1002', status: 'available', custom: { padding: 'x'.repeat(4000) } } };
}

// ---- 1. SSE readers that never read ------------------------------------------------------------

async function neverReading(url) {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  await new Promise((resolve, reject) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.pause();
        resolve();
      }
    });
    socket.once('error', reject);
    socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TOKEN}\r\nAccept: text/event-stream\r\n\r\n`);
  });
  return socket;
}

/** 36 MB: 90 requests of 100 events of 4 KB, one after the other; the worst request's time. */
async function flow(url, tag) {
  let worst = 0;
  for (let batch = 0; batch < 90; batch += 1) {
    const { status, ms } = await post(url, Array.from({ length: 100 }, (_, i) => padded(`${tag}-${batch}-${i}`)));
    if (status !== 202) throw new Error(`intake answered ${status}`);
    worst = Math.max(worst, ms);
  }
  return worst;
}

async function slowReaders(redis, readers) {
  section(`SSE: ${readers} readers that never read while 36 MB of events flow (stream.clientBufferBytes 1 MiB)`);
  const hub = await startHub({ redis: { url: redis.url }, keyPrefix: `bench-sse-${readers}` });
  try {
    const quietWorst = await flow(hub.url, 'quiet');
    const sockets = [];
    for (let i = 0; i < readers; i += 1) sockets.push(await neverReading(hub.url));
    const baseline = memory(hub.pid, 'VmRSS');
    resetPeak(hub.pid);
    const hubCpu = cpuSeconds(hub.pid);
    const redisCpu = cpuSeconds(redis.pid);
    const worst = await flow(hub.url, 'flow');
    const cuts = /switchboard_stream_disconnects_total\{reason="slow_client"\} (\d+)/;
    await until(async () => (await metric(hub.url, cuts)) === readers, 180_000, 'every reader to be cut');
    const growth = memory(hub.pid, 'VmHWM') - baseline;
    const events = 9000;
    report({ name: `hub peak memory growth, ${readers} readers`, value: growth / MiB, unit: 'MiB', ceilingName: `budget ${readers} × 1.5 MiB`, ceiling: readers * 1.5, goal: '≤ budget' });
    report({ name: 'hub memory growth per reader', value: growth / MiB / readers, unit: 'MiB', ceilingName: 'stream.clientBufferBytes', ceiling: 1, goal: '≤ 1.5 MiB' });
    report({ name: 'intake worst request (100 × 4 KB) during the flow', value: worst, unit: 'ms', ceilingName: 'same flow, no reader', ceiling: quietWorst, goal: '< 1,000 ms' });
    report({ name: 'hub CPU per event during the flow', value: ((cpuSeconds(hub.pid) - hubCpu) / events) * 1e6, unit: 'µs', goal: '' });
    report({ name: 'redis-server CPU per event during the flow', value: ((cpuSeconds(redis.pid) - redisCpu) / events) * 1e6, unit: 'µs', goal: '' });
    for (const socket of sockets) socket.destroy();
  } finally {
    await hub.stop();
  }
}

// ---- a loopback FreeSWITCH Event Socket -------------------------------------------------------

const CORE = '6e4a6b0e-9d6a-4b8a-8f1a-2d7b6a9c0f11';
const AGENT_HEADER = 'name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count';

function agentList(count) {
  const rows = [AGENT_HEADER];
  for (let i = 0; i < count; i += 1) rows.push(`${100_000 + i}@default|single_box||callback|user/${100_000 + i}|${i % 3 === 0 ? 'On Break' : 'Available'}|Waiting|3|10|10|60|0|0|0|0|${1_795_255_000 + i}|0|0|0|0|0`);
  return `${rows.join('\n')}\n+OK\n`;
}

/**
 * `answer(command)` gives an api command's body; `afterAnswer(command, socket)` may drop the
 * session. Sessions start (auth/request) only once `open()` is called.
 */
async function startEsl({ answer, afterAnswer = () => {} }) {
  let opened = false;
  const waiting = [];
  const sockets = new Set();
  let sessions = 0;
  const greet = (socket) => socket.write('Content-Type: auth/request\n\n');
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let text = '';
    socket.on('data', (chunk) => {
      text += chunk.toString('utf8');
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const command = text.slice(0, end).trim();
        text = text.slice(end + 2);
        if (command.startsWith('auth ')) socket.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
        else if (command.startsWith('event ')) socket.write('Content-Type: command/reply\nReply-Text: +OK event listener enabled json\n\n');
        else if (command.startsWith('api ')) {
          const body = answer(command.slice(4));
          if (command === 'api global_getvar core_uuid') sessions += 1;
          socket.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
          afterAnswer(command.slice(4), socket);
        }
      }
    });
    if (opened) greet(socket);
    else waiting.push(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: server.address().port,
    get sessions() {
      return sessions;
    },
    /** Drops every session (a network failure): the hub reconnects and resyncs. */
    dropAll() {
      for (const socket of sockets) socket.destroy();
    },
    open() {
      opened = true;
      for (const socket of waiting.splice(0)) greet(socket);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

function answerLists(agents) {
  return (command) => {
    if (command === 'global_getvar core_uuid') return CORE;
    if (command === 'callcenter_config agent list') return agents;
    if (command === 'callcenter_config queue list') return 'name|strategy\n+OK\n';
    return '-ERR Command not found!\n';
  };
}

async function logTypes(redis, keyPrefix) {
  const client = createClient({ url: redis.url });
  await client.connect();
  const counts = new Map();
  const key = `${keyPrefix}:{log}:events`;
  let after = '-';
  for (;;) {
    const entries = await client.xRange(key, after === '-' ? '-' : `(${after}`, '+', { COUNT: 10_000 });
    if (entries.length === 0) break;
    for (const entry of entries) counts.set(entry.message.type, (counts.get(entry.message.type) ?? 0) + 1);
    after = entries.at(-1).id;
  }
  await client.quit();
  return counts;
}

/** Times Redis answered BUSY to the bench's polling while a resync was appended. */
let busyAnswers = 0;

/** The `reason` of the newest source.resynced among the newest 50 log entries (it is among them once written). */
async function lastResync(redis, keyPrefix) {
  const client = createClient({ url: redis.url });
  await client.connect();
  let entries;
  try {
    entries = await client.xRevRange(`${keyPrefix}:{log}:events`, '+', '-', { COUNT: 50 });
  } catch (error) {
    // BUSY: one script appending a whole resync holds Redis for seconds (the code before batching did).
    if (!/BUSY/.test(error.message)) throw error;
    busyAnswers += 1;
    return undefined;
  } finally {
    await client.quit().catch(() => client.destroy());
  }
  const resynced = entries.find((entry) => entry.message.type === 'source.resynced');
  return resynced && JSON.parse(resynced.message.event).data.reason;
}

/** Posts one event every 10 ms until `done` settles; the worst request's time and the count. */
async function postWhile(url, done, tag) {
  let finished = false;
  done.then(
    () => (finished = true),
    () => (finished = true),
  );
  let worst = 0;
  let requests = 0;
  while (!finished) {
    worst = Math.max(worst, (await post(url, [{ id: `${tag}-${requests}`, type: 'agent.status_changed', data: { agent: 'web-1', status: 'available' } }])).ms);
    requests += 1;
    await sleep(10);
  }
  await done;
  return { worst, requests };
}

// ---- 2. a 150k-agent resync --------------------------------------------------------------------

async function hugeResync(redis) {
  const list = agentList(RESYNC_AGENTS);
  section(`FreeSWITCH resync of ${RESYNC_AGENTS.toLocaleString('en-US')} agents (agent list ${(Buffer.byteLength(list) / MiB).toFixed(1)} MiB), intake posting meanwhile`);
  const esl = await startEsl({ answer: answerLists(list) });
  const keyPrefix = 'bench-resync';
  const hub = await startHub({ redis: { url: redis.url }, keyPrefix, sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: esl.port }] });
  try {
    // Intake alone first: its worst single-event request over 200 requests.
    let quietWorst = 0;
    for (let i = 0; i < 200; i += 1) quietWorst = Math.max(quietWorst, (await post(hub.url, [{ id: `quiet-${i}`, type: 'agent.status_changed', data: { agent: 'web-1', status: 'available' } }])).ms);
    const baseline = memory(hub.pid, 'VmRSS');
    resetPeak(hub.pid);
    const hubCpu = cpuSeconds(hub.pid);
    const started = performance.now();
    esl.open();
    const parseErrors = /switchboard_source_parse_errors_total\{source="fs1"\} (\d+)/;
    const first = await postWhile(hub.url, until(async () => (await lastResync(redis, keyPrefix)) === 'connected', 600_000, 'the resync'), 'during');
    if ((await metric(hub.url, parseErrors)) > 0) throw new Error('the hub could not read the agent list');
    const seconds = (performance.now() - started) / 1000;
    const growth = memory(hub.pid, 'VmHWM') - baseline;
    const hubSeconds = cpuSeconds(hub.pid) - hubCpu;
    const corrections = (await logTypes(redis, keyPrefix)).get('agent.status_changed') - 200 - first.requests;
    report({ name: 'hub peak memory growth, first resync (live state included)', value: growth / MiB, unit: 'MiB', ceilingName: 'agent list text', ceiling: Buffer.byteLength(list) / MiB, goal: '' });
    report({ name: `intake worst request during it (${first.requests} requests)`, value: first.worst, unit: 'ms', ceilingName: 'same requests, no resync', ceiling: quietWorst, goal: '< 1,000 ms' });
    report({ name: 'resync to source.resynced', value: seconds, unit: 's', goal: '' });
    report({ name: 'corrections appended', value: corrections, unit: 'events', ceilingName: 'agents', ceiling: RESYNC_AGENTS, goal: '= agents' });
    report({ name: 'hub CPU per correction', value: (hubSeconds / RESYNC_AGENTS) * 1e6, unit: 'µs', goal: '' });
    report({ name: 'Redis answered BUSY (a script ran over 5 s)', value: busyAnswers, unit: 'times', goal: '0' });

    // A reconnect: the same list again, nothing to correct. The source's own cost, without the
    // live state's growth (the live projection now holds the 150k agents either way).
    const again = memory(hub.pid, 'VmRSS');
    resetPeak(hub.pid);
    esl.dropAll();
    // n/a when it does not finish within two minutes.
    const second = await postWhile(hub.url, until(async () => (await lastResync(redis, keyPrefix)) === 'reconnected', 120_000, 'the second resync'), 'again').catch(() => undefined);
    report({ name: 'hub peak memory growth, reconnect resync (0 corrections)', value: second ? (memory(hub.pid, 'VmHWM') - again) / MiB : NaN, unit: 'MiB', ceilingName: 'agent list text', ceiling: Buffer.byteLength(list) / MiB, goal: 'a few × the list' });
    report({ name: `intake worst request during it (${second?.requests ?? 0} requests)`, value: second?.worst ?? NaN, unit: 'ms', ceilingName: 'same requests, no resync', ceiling: quietWorst, goal: '< 1,000 ms' });
  } finally {
    await hub.stop();
    await esl.close();
  }
}

// ---- 3. a reconnect storm ----------------------------------------------------------------------

async function reconnectStorm(redis) {
  const SECONDS = 6;
  section(`FreeSWITCH that drops every session right after its handshake and resync, ${SECONDS} s (reconnectInitialMs 100, reconnectMaxMs 30000)`);
  const esl = await startEsl({
    answer: answerLists(agentList(10)),
    // The last command of a resync with no queues: the session ends as soon as it is answered.
    afterAnswer: (command, socket) => command === 'callcenter_config queue list' && setImmediate(() => socket.destroy()),
  });
  const keyPrefix = 'bench-storm';
  const hub = await startHub({ redis: { url: redis.url }, keyPrefix, sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: esl.port, reconnectInitialMs: 100, reconnectMaxMs: 30_000 }] });
  try {
    esl.open();
    await sleep(SECONDS * 1000);
    const sessions = esl.sessions;
    const types = await logTypes(redis, keyPrefix);
    report({ name: `source.gap written in ${SECONDS} s`, value: types.get('source.gap') ?? 0, unit: 'events', ceilingName: 'sessions', ceiling: sessions, goal: '≤ 1 per backoff step' });
    report({ name: `source.resynced written in ${SECONDS} s`, value: types.get('source.resynced') ?? 0, unit: 'events', ceilingName: 'sessions', ceiling: sessions, goal: '≤ 1 per backoff step' });
  } finally {
    await hub.stop();
    await esl.close();
  }
}

// ---- 4. a spool that grew past its limit -------------------------------------------------------

async function spoolFiles(dataDir) {
  let bytes = 0;
  for (const name of ['spool.db', 'spool.db-wal']) {
    try {
      bytes += statSync(join(dataDir, name)).size;
    } catch {
      // absent
    }
  }
  return bytes;
}

async function acceptedUntilRefused(url, tag) {
  let accepted = 0;
  while (accepted < 2000) {
    const { status } = await post(url, [padded(`${tag}-${accepted}`)]);
    if (status !== 202) break;
    accepted += 1;
  }
  return accepted;
}

async function grownSpool() {
  const LIMIT = 150_000;
  section(`Spool grown to 1.8 MB (450 × 4 KB events), reopened under spool.maxBytes ${LIMIT.toLocaleString('en-US')}, Redis away`);
  const redisPort = await freePort();
  const dataDir = tempDir();
  const redis = { url: `redis://127.0.0.1:${redisPort}`, commandTimeoutMs: 300 };
  const first = await startHub({ redis, dataDir, keyPrefix: 'bench-spool', spool: { maxBytes: 64 * MiB } });
  for (let start = 0; start < 450; start += 50) {
    const { status } = await post(first.url, Array.from({ length: 50 }, (_, i) => padded(`grown-${start + i}`)));
    if (status !== 202) throw new Error(`intake answered ${status} while growing the spool`);
  }
  await first.stop();
  const grownBytes = await spoolFiles(dataDir);
  const hub = await startHub({ redis, dataDir, keyPrefix: 'bench-spool', spool: { maxBytes: LIMIT, drainRetryMs: 50 } });
  let server;
  try {
    const overGrown = await acceptedUntilRefused(hub.url, 'over-grown');
    server = await LocalRedisServer.start({ port: redisPort, dir: tempDir('switchboard-bench-redis-'), appendOnly: false });
    await until(async () => (await metric(hub.url, /^switchboard_spool_depth (\d+)$/m)) === 0, 60_000, 'the spool to drain');
    await server.close();
    server = undefined;
    const afterDrain = await acceptedUntilRefused(hub.url, 'after-drain');
    const limitEvents = Math.floor(LIMIT / 4096);
    report({ name: `4 KB events accepted over the grown spool (${(grownBytes / MiB).toFixed(1)} MiB on disk)`, value: overGrown, unit: 'events', ceilingName: 'the limit in 4 KB events', ceiling: limitEvents, goal: '0 (over the limit)' });
    report({ name: '4 KB events accepted once it drained', value: afterDrain, unit: 'events', ceilingName: 'the limit in 4 KB events', ceiling: limitEvents, goal: '≤ limit' });
  } finally {
    await hub.stop();
    await server?.close();
  }
}

const redis = await startRedis({ appendOnly: false });
try {
  if (PARTS.includes('sse')) for (const readers of [150, 600]) await slowReaders(redis, readers);
  if (PARTS.includes('resync')) await hugeResync(redis);
  if (PARTS.includes('storm')) await reconnectStorm(redis);
  if (PARTS.includes('spool')) await grownSpool();
} finally {
  await redis.close();
}
