// `npm run bench -- board` (also run by `npm run bench -- live`): intake event → the wallboard's
// DOM in headless Chromium, p50/p99, beside intake → an SSE client of the same hub, and the hub's
// CPU per event with the board open and without it. The hub runs as its own process (`switchboard
// start`), so its CPU is its own; the board is /usr/bin/chromium through playwright-core.
//
// Each event rings an agent (`call.offered`, the tile turns to "Ringing") or takes the ring back
// (`call.missed`, "Available"); the page records every tile's change of activity with a
// MutationObserver, and each event is matched to its agent's first change to the expected
// activity after the event was posted. BENCH_BOARD_EVENTS (400) and BENCH_BOARD_INTERVAL_MS (25)
// set the run.
/* global document, window, MutationObserver -- the page.evaluate callbacks run in the board's page */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { chromium } from 'playwright-core';
import { waitForPort } from '../dist/redis/local-server.js';
import { freePort, percentile, report, section, sleep, startRedis, tempDir } from './lib.mjs';

const TOKEN = 'bench-token-0123456789abcdef';
const EVENTS = Number(process.env.BENCH_BOARD_EVENTS ?? 400);
const INTERVAL_MS = Number(process.env.BENCH_BOARD_INTERVAL_MS ?? 25);
const AGENTS = 20;
const QUEUE = 'bench';

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
/** CPU seconds (user + system) of a process, from /proc/<pid>/stat. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}
const wallClock = () => performance.timeOrigin + performance.now();

async function post(events) {
  const response = await fetch(`${url}/v1/events`, { method: 'POST', headers, body: JSON.stringify(events) });
  if (response.status !== 202) throw new Error(`intake answered ${response.status}: ${await response.text()}`);
}

/** An SSE client in this process: the wall-clock time each event id arrived. */
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
        if (data) arrivals.set(JSON.parse(data.slice(6)).id, wallClock());
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
    const arrivals = new Map();
    const abort = new AbortController();
    const reading = readStream(abort.signal, arrivals);
    await sleep(500);
    const cpuBefore = cpuSeconds(hub.pid);
    const sent = await drive(runId);
    const deadline = Date.now() + 10_000;
    while (arrivals.size < sent.length && Date.now() < deadline) await sleep(50);
    // The board's re-reads of the hub's figures follow each event: let the last ones finish.
    await sleep(1000);
    const cpuPerEventUs = ((cpuSeconds(hub.pid) - cpuBefore) * 1e6) / sent.length;
    abort.abort();
    await reading;
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

  await page.close();
  const closed = await measure('closed', false);
  report({ name: 'hub CPU per event, one board open', value: open.cpuPerEventUs, unit: 'µs', ceilingName: 'with only an SSE client', ceiling: closed.cpuPerEventUs });
} finally {
  await browser.close();
  hub.kill('SIGTERM');
  await new Promise((resolve) => hub.once('exit', resolve));
  await redis.close();
}
