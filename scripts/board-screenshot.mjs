// `npm run screenshot`: the wallboard under `switchboard simulate` load, saved as docs/board.png
// (shown in the README). Runs the built hub on its own Redis and data directory.
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
      live: { queues: { 'campaign-1-queue': { serviceLevelThresholdMs: 30_000 } } },
    }),
  ),
);
const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
  await page.goto(`${hub.url}/board`);
  await page.fill('#token', TOKEN);
  await page.click('button[type=submit]');
  await page.locator('#connection[data-state="live"]').waitFor();
  const load = simulateCommand({ url: hub.url, token: TOKEN, rate: 40, agents: 24, campaigns: 3, durationS: 25, maxBatch: 50, seed: 7 }, new PassThrough());
  // Mid-shift, before the simulation logs everyone out.
  await new Promise((resolve) => setTimeout(resolve, 20_000));
  await page.screenshot({ path: new URL('../docs/board.png', import.meta.url).pathname, fullPage: true });
  console.log('saved docs/board.png');
  await load;
} finally {
  await browser.close();
  await hub.close();
  await redis.close();
}
