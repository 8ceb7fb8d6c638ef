import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Hub } from '../src/hub.js';
import { launchChromium } from './helpers/browser.js';
import { postEvents, startHub } from './helpers/hub.js';
import { freePort, startRedis, type TestRedis } from './helpers/redis.js';

const READ = 'board-read-token-0123456789';
const INGEST_ONLY = 'board-ingest-token-0123456789';
const SHOWN_WITHIN_MS = 1000;

describe('/board wallboard in headless Chromium', () => {
  let redis: TestRedis;
  let hub: Hub;
  let browser: Browser;
  let page: Page;
  let port: number;
  const hubConfig = () => ({
    http: { port },
    auth: {
      tokens: [
        { name: 'board', token: READ, roles: ['read'] },
        { name: 'dialler', token: INGEST_ONLY, roles: ['ingest'] },
      ],
    },
  });

  beforeAll(async () => {
    redis = await startRedis();
    port = await freePort();
    hub = await startHub(redis.url, hubConfig());
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await redis?.close();
  });

  it('forbids framing and type sniffing on every /board answer', async () => {
    for (const [path, status] of [['/board', 200], ['/board/board.js', 200], ['/board/sse.js', 200], ['/board/board.css', 200], ['/board/favicon.svg', 200], ['/favicon.ico', 200], ['/board/access', 200], ['/board/missing.js', 404]] as const) {
      const response = await fetch(`${hub.url}${path}`);
      expect(response.status, path).toBe(status);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      const policy = (response.headers.get('content-security-policy') ?? '').split(';').map((directive) => directive.trim());
      expect(policy, path).toContain("frame-ancestors 'none'");
      expect(policy, path).toContain("default-src 'self'");
    }
    // A page of another origin that frames the board gets an error page in the frame, not the board.
    const framer = createServer((_request, response) =>
      response.writeHead(200, { 'content-type': 'text/html' }).end(`<iframe src="${hub.url}/board" onload="document.title = 'frame loaded'"></iframe>`),
    );
    await new Promise<void>((resolve) => framer.listen(0, '127.0.0.1', resolve));
    const framing = await browser.newPage();
    await framing.goto(`http://127.0.0.1:${(framer.address() as AddressInfo).port}/`);
    await framing.waitForFunction(() => document.title === 'frame loaded');
    const frame = framing.frames().find((candidate) => candidate !== framing.mainFrame());
    expect(frame?.url()).toBe('chrome-error://chromewebdata/');
    framer.close();
    await framing.close();
  });

  it('asks for a read token, refuses a wrong one, and keeps a good one for the tab only', async () => {
    await page.goto(`${hub.url}/board`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    await page.fill('#token', INGEST_ONLY);
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#signin-error')).toContain('lacks the read role');
    await page.fill('#token', 'not-a-token-at-all-0123');
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#signin-error')).toContain('did not accept');

    await page.fill('#token', READ);
    await page.click('button[type=submit]');
    await page.locator('#board').waitFor({ state: 'visible' });
    await page.locator('#connection[data-state="live"]').waitFor();
    expect(await page.evaluate(() => [sessionStorage.getItem('switchboard.readToken'), localStorage.length])).toEqual([READ, 0]);
    // Another tab (a new browsing context) has no token.
    const other = await browser.newPage();
    await other.goto(`${hub.url}/board`);
    await other.locator('#signin').waitFor({ state: 'visible' });
    await other.close();
  });

  it('shows an agent\'s status and a queue\'s waiting count within a second of intake', async () => {
    expect((await postEvents(hub.url, [{ type: 'agent.status_changed', data: { agent: '1001', status: 'available' } }], INGEST_ONLY)).status).toBe(202);
    await page.locator('[data-agent="1001"][data-status="available"]').waitFor({ timeout: SHOWN_WITHIN_MS });

    expect((await postEvents(hub.url, [{ type: 'agent.status_changed', data: { agent: '1001', status: 'on_break' } }], INGEST_ONLY)).status).toBe(202);
    await page.locator('[data-agent="1001"][data-status="on_break"]').waitFor({ timeout: SHOWN_WITHIN_MS });

    const queued = (n: number) => ({ type: 'call.queued', data: { call_id: `board-${n}`, queue: 'sales', caller_id: '+27215550000' } });
    expect((await postEvents(hub.url, [queued(1), queued(2)], INGEST_ONLY)).status).toBe(202);
    await page.waitForFunction(() => document.querySelector('[data-queue="sales"] .waiting')?.textContent === '2', undefined, { timeout: SHOWN_WITHIN_MS });
    await page.locator('tr[data-call="board-1"][data-state="queued"]').waitFor({ timeout: SHOWN_WITHIN_MS });

    // Offered and connected to agent 1001: the tile turns to the call, the queue has one waiting.
    const call = { call_id: 'board-1', queue: 'sales', agent: '1001' };
    expect(
      (await postEvents(hub.url, [
        { type: 'call.offered', data: call },
        { type: 'call.connected', data: call },
        { type: 'agent.status_changed', data: { agent: '1001', status: 'busy' } },
      ], INGEST_ONLY)).status,
    ).toBe(202);
    await page.locator('[data-agent="1001"][data-status="busy"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    await page.waitForFunction(() => document.querySelector('[data-queue="sales"] .waiting')?.textContent === '1', undefined, { timeout: SHOWN_WITHIN_MS });
    expect(await page.textContent('[data-agent="1001"] .call')).toContain('board-1');

    // Time in state ticks without any event.
    const since = page.locator('[data-agent="1001"] .since');
    const first = await since.textContent();
    await expect.poll(() => since.textContent(), { timeout: 5000 }).not.toBe(first);

    // The hub's counters (abandoned) follow shortly after.
    expect((await postEvents(hub.url, [{ type: 'call.abandoned', data: { call_id: 'board-2', queue: 'sales', reason: 'caller_hungup', wait_s: 30 } }], INGEST_ONLY)).status).toBe(202);
    await page.waitForFunction(() => document.querySelector('[data-queue="sales"] .waiting')?.textContent === '0', undefined, { timeout: SHOWN_WITHIN_MS });
    await expect.poll(() => page.textContent('[data-queue="sales"] .abandoned'), { timeout: 5000 }).toBe('1');
  });

  it('reads the lists page by page, and after a call event re-reads only the page of its queue', async () => {
    // 1,000 agents in 2,000 queues: with 'sales', three pages of the board's 1,000 queues.
    const agents = Array.from({ length: 1000 }, (_, i) => ({ type: 'agent.status_changed', data: { agent: `pg${i}`, status: 'available', queues: [`pq-${i}`, `pq-${i + 1000}`] } }));
    expect((await postEvents(hub.url, agents, INGEST_ONLY)).status).toBe(202);
    await page.locator('[data-agent="pg999"]').waitFor({ timeout: 10_000 });
    const reads: string[] = [];
    // Only the reloaded page's reads: the page being left may still be re-reading after those agents.
    let reloaded = false;
    page.once('framenavigated', () => (reloaded = true));
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (reloaded && url.pathname.startsWith('/v1/live/')) reads.push(`${url.pathname}?${url.searchParams.has('cursor') ? 'cursor' : 'first'}&limit=${url.searchParams.get('limit')}`);
    });
    await page.reload();
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 });
    await page.locator('[data-queue="pq-1999"]').waitFor({ timeout: 10_000 });
    expect(reads.filter((read) => read.startsWith('/v1/live/queues')).sort()).toEqual([
      '/v1/live/queues?cursor&limit=1000',
      '/v1/live/queues?cursor&limit=1000',
      '/v1/live/queues?first&limit=1000',
    ]);
    expect(reads.filter((read) => read.startsWith('/v1/live/agents')).sort()).toEqual(['/v1/live/agents?cursor&limit=1000', '/v1/live/agents?first&limit=1000']);

    // pq-1500 is on the second page: that page alone is read again, and its counter follows. This
    // board redraws 3,000 tiles per change: the one-second goal is the ordinary floor's, above.
    reads.length = 0;
    const call = { call_id: 'paged-1', queue: 'pq-1500' };
    expect((await postEvents(hub.url, [{ type: 'call.queued', data: call }], INGEST_ONLY)).status).toBe(202);
    await page.waitForFunction(() => document.querySelector('[data-queue="pq-1500"] .waiting')?.textContent === '1', undefined, { timeout: 5000 });
    expect((await postEvents(hub.url, [{ type: 'call.abandoned', data: { ...call, reason: 'caller_hungup', wait_s: 30 } }], INGEST_ONLY)).status).toBe(202);
    await expect.poll(() => page.textContent('[data-queue="pq-1500"] .abandoned'), { timeout: 5000 }).toBe('1');
    // Today's intervals (the strip adds up every queue's) are read beside it.
    expect(new Set(reads.filter((read) => !read.startsWith('/v1/live/intervals')))).toEqual(new Set(['/v1/live/queues?cursor&limit=1000']));
  });

  it('resumes after a hub restart without reloading the page', async () => {
    await page.evaluate(() => Object.assign(window, { notReloaded: true }));
    await hub.close();
    await page.locator('#connection[data-state="reconnecting"]').waitFor({ timeout: 15_000 });
    // An event accepted before the page has reconnected is not missed either.
    hub = await startHub(redis.url, hubConfig());
    expect((await postEvents(hub.url, [{ type: 'agent.status_changed', data: { agent: '1002', status: 'available' } }], INGEST_ONLY)).status).toBe(202);
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 20_000 });
    await page.locator('[data-agent="1002"][data-status="available"]').waitFor({ timeout: 10_000 });
    expect((await postEvents(hub.url, [{ type: 'agent.status_changed', data: { agent: '1001', status: 'wrapup' } }], INGEST_ONLY)).status).toBe(202);
    await page.locator('[data-agent="1001"][data-status="wrapup"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  });
});
