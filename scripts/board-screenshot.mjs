// `npm run screenshot`: the wallboard under `switchboard simulate` load, saved as docs/board.png
// (a 1920 px wall screen, shown in the README) and docs/board-phone.png (a 390 px phone). Runs
// the built hub on its own Redis and data directory, with alert thresholds that a caller and an
// agent scripted beside the simulated floor cross, so the alerts show too.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { chromium } from 'playwright-core';
import { simulateCommand } from '../dist/cli/simulate.js';
import { parseConfig } from '../dist/config/load.js';
import { Hub } from '../dist/hub.js';
import { LocalRedisServer } from '../dist/redis/local-server.js';

const TOKEN = 'screenshot-token-0123456789';
const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

const dir = mkdtempSync(join(tmpdir(), 'switchboard-screenshot-'));
const redisPort = await freePort();
const redis = await LocalRedisServer.start({ port: redisPort, dir: join(dir, 'redis'), appendOnly: false });
const hub = await Hub.start(
  Object.freeze(
    parseConfig({
      dataDir: join(dir, 'data'),
      logLevel: 'warn',
      http: { port: 0 },
      redis: { url: `redis://127.0.0.1:${redisPort}` },
      auth: { apiToken: TOKEN },
      live: {
        queues: { 'campaign-1-queue': { serviceLevelThresholdMs: 30_000, alerts: { serviceLevelBelowPct: 90 } }, support: { alerts: { longestWaitOverS: 60 } } },
        alerts: { notReadyOverS: 120, afterCallWorkOverS: 60 },
      },
    }),
  ),
);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1920, height: 1080 } });
  await page.goto(`${hub.url}/board`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('#connection[data-state="live"]').waitFor();
  // Beside the simulated floor: a caller waiting 90 s in "support" and an agent not ready for
  // five minutes, so the picture shows their alerts.
  const ago = (ms) => new Date(Date.now() - ms).toISOString();
  await fetch(`${hub.url}/v1/events`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify([
      { type: 'call.queued', time: ago(90_000), data: { call_id: 'support-1', queue: 'support', caller_id: '+27215550100' } },
      { type: 'agent.status_changed', time: ago(300_000), data: { agent: '1025', name: 'Thandi', status: 'not_ready', reason: 'Coaching', queues: ['support'] } },
    ]),
  });
  const load = simulateCommand({ url: hub.url, token: TOKEN, rate: 40, agents: 24, campaigns: 3, durationS: 25, maxBatch: 50, seed: 7 }, new PassThrough());
  // Mid-shift, before the simulation logs everyone out.
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  await page.screenshot({ path: new URL('../docs/board.png', import.meta.url).pathname, fullPage: true });
  console.log('saved docs/board.png');
  const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2 });
  await phone.goto(`${hub.url}/board`);
  await phone.fill('#token', TOKEN);
  await phone.click('button[type=submit]');
  await phone.locator('#connection[data-state="live"]').waitFor();
  await phone.locator('#agents [data-agent]').first().waitFor();
  // The top of the page: the header, alerts, filters, queues and the first agents.
  await phone.screenshot({ path: new URL('../docs/board-phone.png', import.meta.url).pathname, clip: { x: 0, y: 0, width: 390, height: 1500 }, fullPage: true });
  console.log('saved docs/board-phone.png');
  await load;
} finally {
  await browser.close();
  await hub.close();
  await redis.close();
}
