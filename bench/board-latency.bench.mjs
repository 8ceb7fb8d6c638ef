// `npm run bench -- board` (board-latency.bench.mjs, beside `-- live`): intake event → the wallboard's
// DOM in headless Chromium, p50/p99, beside intake → an SSE client of the same hub, and the hub's
// CPU per event with the board open and without it. The hub runs as its own process (`switchboard
// start`), so its CPU is its own; the board is /usr/bin/chromium through playwright-core.
//
// Each event rings an agent (`call.offered`, the tile turns to "Ringing") or takes the ring back
// (`call.missed`, "Available"); the page records every tile's change of activity with a
// MutationObserver, and each event is matched to its agent's first change to the expected
// activity after the event was posted. BENCH_BOARD_EVENTS (400) and BENCH_BOARD_INTERVAL_MS (25)
// set the run.
//
// Then the PBX's own events: a real Asterisk 22 (test/helpers/asterisk.ts; root, its chroot built
// on first use) rings agents that never answer, for BENCH_BOARD_ASTERISK_S (30) seconds. Each
// AgentCalled (stamped by Asterisk, `timestampevents`) is matched to the agent's tile turning to
// "Ringing", and each AgentRingNoAnswer to the tile leaving it; beside them, the same events'
// arrival at the SSE client. BENCH_BOARD_ASTERISK=0 leaves this part out.
/* global document, window, MutationObserver -- the page.evaluate callbacks run in the board's page */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { chromium } from 'playwright-core';
import { register } from 'tsx/esm/api';
import { waitForPort } from '../dist/redis/local-server.js';
import { cpuSeconds, freePort, percentile, report, section, sleep, startRedis, tempDir } from './lib.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const EVENTS = Number(process.env.BENCH_BOARD_EVENTS ?? 400);
const INTERVAL_MS = Number(process.env.BENCH_BOARD_INTERVAL_MS ?? 25);
const AGENTS = 20;
const QUEUE = 'bench';
const WITH_ASTERISK = process.env.BENCH_BOARD_ASTERISK !== '0';
const ASTERISK_S = Number(process.env.BENCH_BOARD_ASTERISK_S ?? 30);
/** Asterisk's ringing members (Local/9XXX never answer) and the callers waiting for them. */
const RING_MEMBERS = 10;
const RING_CALLERS = 4;

register();
const { AmiDriver, AMI_SECRET, AMI_USER, RealAsterisk } = await import('../test/helpers/asterisk.ts');
const asterisk = WITH_ASTERISK ? await RealAsterisk.start({ queues: { ring: { strategy: 'rrmemory', timeout: 1, retry: 1, autofill: 'yes', ringinuse: 'no' } } }) : undefined;
const ami = asterisk ? await AmiDriver.connect(asterisk.amiPort) : undefined;
for (let i = 0; ami && i < RING_MEMBERS; i += 1) {
  await ami.action({ Action: 'QueueAdd', Queue: 'ring', Interface: `Local/${9000 + i}@agents`, MemberName: `ring-${i}` });
}

const redis = await startRedis();
const port = await freePort();
const configFile = join(tempDir(), 'switchboard.json');
writeFileSync(
  configFile,
  JSON.stringify({
    dataDir: tempDir(),
    logLevel: 'error',
    keyPrefix: 'bench-board',
    http: { port },
    redis: { url: redis.url },
    auth: { apiToken: TOKEN },
    profiles: { enigma: { enabled: false }, newfies: { enabled: false } },
    webhooks: { enabled: false },
    sources: asterisk ? [{ type: 'asterisk', name: 'pbx', host: '127.0.0.1', port: asterisk.amiPort, username: AMI_USER, secret: AMI_SECRET }] : [],
  }),
);
const hub = spawn(process.execPath, [new URL('../dist/cli/main.js', import.meta.url).pathname, 'start'], {
  env: { PATH: process.env.PATH, SWITCHBOARD_CONFIG: configFile },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let hubErrors = '';
hub.stderr.on('data', (chunk) => (hubErrors += chunk));
hub.once('exit', (code) => code && console.error(`hub exited with ${code}:\n${hubErrors}`));
const url = `http://127.0.0.1:${port}`;
const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const wallClock = () => performance.timeOrigin + performance.now();

async function post(events) {
  const response = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify(events) });
  if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
}

/** An SSE client in this process: each event's id, type, agent and wall-clock arrival, in order. */
async function readStream(signal, arrivals) {
  const response = await fetch(`${url}/v1/stream?types=call.offered,call.missed`, { headers: { authorization: `Bearer ${TOKEN}`, accept: 'text/event-stream' }, signal });
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk, { stream: true });
      let end;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const data = buffer.slice(0, end).split('\n').find((line) => line.startsWith('data: '));
        buffer = buffer.slice(end + 2);
        if (!data) continue;
        const event = JSON.parse(data.slice(6));
        arrivals.push({ id: event.id, type: event.type, agent: event.data.agent, at: wallClock() });
      }
    }
  } catch (error) {
    if (error.name !== 'AbortError') throw error;
  }
}

/** EVENTS events, one per request every INTERVAL_MS: agent i % AGENTS rings, then its ring is taken back. */
async function drive(runId) {
  const sent = [];
  for (let i = 0; i < EVENTS; i += 1) {
    const agent = `a${i % AGENTS}`;
    const round = Math.floor(i / AGENTS);
    const ringing = round % 2 === 0;
    const call = { call_id: `${runId}-${agent}-${round - (ringing ? 0 : 1)}`, queue: QUEUE, agent };
    const id = `${runId}-${i}`;
    const postedAt = wallClock();
    await post([{ id, type: ringing ? 'call.offered' : 'call.missed', data: call }]);
    sent.push({ id, agent, activity: ringing ? 'ringing' : 'available', postedAt });
    await sleep(Math.max(0, INTERVAL_MS - (wallClock() - postedAt)));
  }
  return sent;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  await waitForPort(port, 45_000);
  await post(Array.from({ length: AGENTS }, (_, i) => ({ type: 'agent.status_changed', data: { agent: `a${i}`, status: 'available', queues: [QUEUE] } })));
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await page.goto(`${url}/board`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('#connection[data-state="live"]').waitFor({ timeout: 30_000 });
  await page.locator(`[data-agent="a${AGENTS - 1}"][data-activity="available"]`).waitFor({ timeout: 30_000 });
  await page.evaluate(() => {
    const transitions = [];
    const last = new Map();
    const look = () => {
      const at = performance.timeOrigin + performance.now();
      for (const tile of document.querySelectorAll('#agents [data-agent]')) {
        const agent = tile.getAttribute('data-agent');
        const activity = tile.getAttribute('data-activity');
        if (last.get(agent) === activity) continue;
        last.set(agent, activity);
        transitions.push({ agent, activity, at });
      }
    };
    look();
    new MutationObserver(look).observe(document.getElementById('agents'), { subtree: true, childList: true, attributes: true, attributeFilter: ['data-activity'] });
    Object.assign(window, { benchTransitions: transitions });
  });

  const measure = async (runId, withBoard) => {
    const heard = [];
    const abort = new AbortController();
    const reading = readStream(abort.signal, heard);
    await sleep(500);
    const cpuBefore = cpuSeconds(hub.pid);
    const sent = await drive(runId);
    const deadline = Date.now() + 10_000;
    while (heard.length < sent.length && Date.now() < deadline) await sleep(50);
    // The board's re-reads of the hub's figures follow each event: let the last ones finish.
    await sleep(1000);
    const cpuPerEventUs = ((cpuSeconds(hub.pid) - cpuBefore) * 1e6) / sent.length;
    abort.abort();
    await reading;
    const arrivals = new Map(heard.map((event) => [event.id, event.at]));
    const sse = sent.filter((event) => arrivals.has(event.id)).map((event) => arrivals.get(event.id) - event.postedAt).sort((a, b) => a - b);
    let board = [];
    if (withBoard) {
      const transitions = await page.evaluate(() => window.benchTransitions);
      board = sent
        .map((event) => transitions.find((change) => change.agent === event.agent && change.activity === event.activity && change.at >= event.postedAt)?.at - event.postedAt)
        .filter((latency) => Number.isFinite(latency))
        .sort((a, b) => a - b);
    }
    return { sent: sent.length, sse, board, cpuPerEventUs };
  };

  section(`intake → board DOM in headless Chromium: ${EVENTS} events, one request every ${INTERVAL_MS} ms, ${AGENTS} agents (load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} cores)`);
  const open = await measure('open', true);
  console.log(`  the board showed ${open.board.length} of ${open.sent} changes; the SSE client received ${open.sse.length}`);
  report({ name: 'intake → board DOM p50', value: percentile(open.board, 50), unit: 'ms', ceilingName: 'intake → SSE client p50', ceiling: percentile(open.sse, 50) });
  report({ name: 'intake → board DOM p99', value: percentile(open.board, 99), unit: 'ms', ceilingName: 'intake → SSE client p99', ceiling: percentile(open.sse, 99), goal: '≤ 1,000 ms' });

  if (ami) {
    section(`Asterisk 22 (real) → board: ${RING_CALLERS} callers ringing ${RING_MEMBERS} members that never answer (1 s each), ${ASTERISK_S} s`);
    await page.locator(`[data-agent="ring-${RING_MEMBERS - 1}"]`).waitFor({ timeout: 30_000 });
    const heard = [];
    const abort = new AbortController();
    const reading = readStream(abort.signal, heard);
    await sleep(500);
    const from = wallClock();
    for (let i = 0; i < RING_CALLERS; i += 1) await ami.originate('ring', `5559${String(i).padStart(4, '0')}`, 120);
    await sleep(ASTERISK_S * 1000);
    const to = wallClock();
    // Asterisk's own stamp for each ring and each ring not answered, inside the window.
    const rings = ami.events
      .filter((event) => event.headers.Event === 'AgentCalled' || event.headers.Event === 'AgentRingNoAnswer')
      .map((event) => ({ event: event.headers.Event, agent: event.headers.MemberName, at: Number(event.headers.Timestamp) * 1000 }))
      .filter((ring) => ring.at >= from && ring.at <= to - 2000);
    abort.abort();
    await reading;
    const transitions = await page.evaluate(() => window.benchTransitions);
    const latencies = { board: { AgentCalled: [], AgentRingNoAnswer: [] }, sse: { AgentCalled: [], AgentRingNoAnswer: [] } };
    for (const ring of rings) {
      const called = ring.event === 'AgentCalled';
      const shown = transitions.find((change) => change.agent === ring.agent && change.at >= ring.at && (called ? change.activity === 'ringing' : change.activity !== 'ringing'));
      if (shown) latencies.board[ring.event].push(shown.at - ring.at);
      const streamed = heard.find((event) => event.agent === ring.agent && event.at >= ring.at && event.type === (called ? 'call.offered' : 'call.missed'));
      if (streamed) latencies.sse[ring.event].push(streamed.at - ring.at);
    }
    for (const list of [...Object.values(latencies.board), ...Object.values(latencies.sse)]) list.sort((a, b) => a - b);
    const count = (event) => rings.filter((ring) => ring.event === event).length;
    console.log(`  ${count('AgentCalled')} AgentCalled: ${latencies.board.AgentCalled.length} shown as Ringing, ${latencies.sse.AgentCalled.length} call.offered streamed; ${count('AgentRingNoAnswer')} AgentRingNoAnswer: ${latencies.board.AgentRingNoAnswer.length} shown, ${latencies.sse.AgentRingNoAnswer.length} call.missed streamed`);
    report({ name: 'AgentCalled → board "Ringing" p50', value: percentile(latencies.board.AgentCalled, 50), unit: 'ms', ceilingName: 'AgentCalled → SSE call.offered p50', ceiling: percentile(latencies.sse.AgentCalled, 50) });
    report({ name: 'AgentCalled → board "Ringing" p99', value: percentile(latencies.board.AgentCalled, 99), unit: 'ms', ceilingName: 'AgentCalled → SSE call.offered p99', ceiling: percentile(latencies.sse.AgentCalled, 99), goal: '≤ 1,000 ms' });
    report({ name: 'AgentRingNoAnswer → board leaves "Ringing" p50', value: percentile(latencies.board.AgentRingNoAnswer, 50), unit: 'ms', ceilingName: 'AgentRingNoAnswer → SSE call.missed p50', ceiling: percentile(latencies.sse.AgentRingNoAnswer, 50) });
    report({ name: 'AgentRingNoAnswer → board leaves "Ringing" p99', value: percentile(latencies.board.AgentRingNoAnswer, 99), unit: 'ms', ceilingName: 'AgentRingNoAnswer → SSE call.missed p99', ceiling: percentile(latencies.sse.AgentRingNoAnswer, 99), goal: '≤ 1,000 ms' });
  }

  await page.close();
  const closed = await measure('closed', false);
  report({ name: 'hub CPU per event, one board open', value: open.cpuPerEventUs, unit: 'µs', ceilingName: 'with only an SSE client', ceiling: closed.cpuPerEventUs });
} finally {
  await browser.close();
  hub.kill('SIGTERM');
  await new Promise((resolve) => hub.once('exit', resolve));
  await ami?.close();
  await asterisk?.close();
  await redis.close();
}
