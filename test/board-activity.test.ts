import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import type { Hub } from '../src/hub.js';
import { launchChromium } from './helpers/browser.js';
import { postEvents, startHub } from './helpers/hub.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

/*
 * The wallboard against the hub's live figures (activity, today's per-agent figures, abandon
 * rate, intervals, alerts), in headless Chromium: what a supervisor sees, how fast, on a wall
 * screen and a phone, and what axe-core finds.
 */
const READ = 'board-activity-read-0123456789';
const INGEST = 'board-activity-ingest-0123456789';
const SHOWN_WITHIN_MS = 1000;
const AXE_SOURCE = createRequire(import.meta.url).resolve('axe-core/axe.min.js');
/** The board's colours (src/board/assets/board.css) as computed styles give them. */
const AMBER = 'rgb(210, 153, 34)';
const BLUE = 'rgb(27, 95, 193)';
const GREEN = 'rgb(26, 127, 55)';
const GREY = 'rgb(87, 96, 106)';

/** The background of the element `selector` names, read in one step (a tile is replaced when its figures change). */
const colourOf = (page: Page, selector: string, property: 'backgroundColor' | 'borderLeftColor' = 'backgroundColor') =>
  page.evaluate(([css, name]) => getComputedStyle(document.querySelector(css) as Element)[name], [selector, property] as const);
const post = async (hub: Hub, events: unknown[]) => expect((await postEvents(hub.url, events, INGEST)).status).toBe(202);
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();

/** axe-core's serious and critical findings on the page as it is now (its id and the elements). */
async function seriousViolations(page: Page): Promise<{ id: string; nodes: string[] }[]> {
  await page.addScriptTag({ path: AXE_SOURCE });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (context: Document) => Promise<{ violations: { id: string; impact: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const { violations } = await axe.run(document);
    return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical').map((violation) => ({ id: violation.id, nodes: violation.nodes.map((node) => node.target.join(' ')) }));
  });
}

describe('/board: activity, figures and alerts in headless Chromium', () => {
  let redis: TestRedis;
  let hub: Hub;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, {
      keyPrefix: 'sbboardactivity',
      auth: { tokens: [{ name: 'board', token: READ, roles: ['read'] }, { name: 'dialler', token: INGEST, roles: ['ingest'] }] },
      live: { serviceLevelThresholdMs: 20_000, shortAbandonMs: 0, queues: { billing: { alerts: { serviceLevelBelowPct: 80 } } } },
    });
    browser = await launchChromium();
    // axe-core is injected as a script: the board's CSP (same-origin scripts only) would refuse it.
    page = await (await browser.newContext({ viewport: { width: 1920, height: 1080 }, bypassCSP: true })).newPage();
    await page.goto(`${hub.url}/board`);
    await page.locator('#signin').waitFor({ state: 'visible' });
    await page.fill('#token', READ);
    await page.click('button[type=submit]');
    await page.locator('#connection[data-state="live"]').waitFor();
  });
  // Each test starts from the unfiltered board, whatever the one before left chosen.
  afterEach(async () => {
    await page.selectOption('#filter-queue', '');
    await page.selectOption('#filter-activity', '');
    await page.selectOption('#sort', 'name');
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await redis?.close();
  });

  it('serves a favicon and says the hub requires a token', async () => {
    const icon = await fetch(`${hub.url}/favicon.ico`);
    expect([icon.status, icon.headers.get('content-type')]).toEqual([200, 'image/svg+xml']);
    expect(await icon.text()).toMatch(/^<svg /);
    const access = await fetch(`${hub.url}/board/access`);
    expect([access.status, await access.json()]).toEqual([200, { token_required: true }]);
  });

  it('turns an offered call into an amber "Ringing" tile within 1 s, then blue on the call, then after-call work with handled and AHT', async () => {
    await post(hub, [{ type: 'agent.status_changed', data: { agent: 'ann', status: 'available', queues: ['billing'] } }]);
    const TILE = 'article[data-agent="ann"]';
    const tile = page.locator('[data-agent="ann"]');
    await page.locator('[data-agent="ann"][data-activity="available"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await colourOf(page, TILE)).toBe(GREEN);
    expect(await tile.locator('.state').textContent()).toBe('Available');

    const call = { call_id: 'ring-1', queue: 'billing', agent: 'ann' };
    await post(hub, [{ type: 'call.queued', time: ago(5000), data: { call_id: 'ring-1', queue: 'billing' } }]);
    const posted = Date.now();
    await post(hub, [{ type: 'call.offered', data: call }]);
    await page.locator('[data-agent="ann"][data-activity="ringing"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(Date.now() - posted).toBeLessThan(SHOWN_WITHIN_MS);
    expect(await tile.locator('.state').textContent()).toBe('Ringing');
    expect(await colourOf(page, TILE)).toBe(AMBER);

    await post(hub, [{ type: 'call.connected', data: call }, { type: 'agent.status_changed', data: { agent: 'ann', status: 'busy' } }]);
    await page.locator('[data-agent="ann"][data-activity="on_call"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await tile.locator('.state').textContent()).toBe('On a call');
    expect(await colourOf(page, TILE)).toBe(BLUE);

    await post(hub, [
      { type: 'call.ended', data: { ...call, talk_s: 60 } },
      { type: 'agent.status_changed', data: { agent: 'ann', status: 'wrapup' } },
    ]);
    await page.locator('[data-agent="ann"][data-activity="after_call_work"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await tile.locator('.state').textContent()).toBe('After-call work');
    expect(await colourOf(page, TILE)).toBe(AMBER);
    // Today's figures are the hub's: they follow within the same second.
    await expect.poll(() => tile.locator('.today').textContent(), { timeout: SHOWN_WITHIN_MS }).toMatch(/^1 handled · AHT \d+:\d\d$/);
  });

  it('shows not ready in grey with its reason, as text', async () => {
    await post(hub, [{ type: 'agent.status_changed', data: { agent: 'bob', status: 'not_ready', reason: 'Training', queues: ['sales'] } }]);
    const TILE = 'article[data-agent="bob"]';
    const tile = page.locator('[data-agent="bob"][data-activity="not_ready"]');
    await tile.waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await tile.locator('.state').textContent()).toBe('Not ready · Training');
    expect(await colourOf(page, TILE)).toBe(GREY);
  });

  it('raises an alert when a queue\'s service level drops under its threshold, in red, and lists it', async () => {
    // Answered after 40 s: 0 % within 20 s, under billing's 80 %.
    const queuedAt = ago(60_000);
    await post(hub, [
      { type: 'call.queued', time: queuedAt, data: { call_id: 'slow-1', queue: 'billing' } },
      { type: 'call.connected', time: ago(20_000), data: { call_id: 'slow-1', queue: 'billing', agent: 'cy' } },
    ]);
    const queue = page.locator('[data-queue="billing"][data-alert="service_level_below"]');
    await queue.waitFor({ timeout: 2 * SHOWN_WITHIN_MS });
    expect(await queue.locator('.badge').textContent()).toBe('Service level below target');
    expect(await colourOf(page, 'article[data-queue="billing"]', 'borderLeftColor')).toBe('rgb(182, 35, 36)');
    const listed = page.locator('#alerts li[data-code="service_level_below"][data-queue="billing"]');
    await listed.waitFor();
    expect(await listed.textContent()).toMatch(/^Service level below target · Queue billing · for \d+:\d\d$/);
    expect(await page.locator('#alerts li').count()).toBe(1);
    // Beside it: the service level and the abandon rate (no abandon yet).
    await expect.poll(() => page.textContent('[data-queue="billing"] .sl')).toBe('50%');
    expect(await page.textContent('[data-queue="billing"] .abandon-rate')).toBe('0%');
    expect(await page.textContent('#totals .abandon-rate')).toBe('0%');

    // The sound is off until asked for.
    expect(await page.getAttribute('#sound', 'aria-pressed')).toBe('false');
    await page.click('#sound');
    expect([await page.getAttribute('#sound', 'aria-pressed'), await page.textContent('#sound')]).toEqual(['true', 'Sound on']);
    await page.click('#sound');
    expect(await page.getAttribute('#sound', 'aria-pressed')).toBe('false');
  });

  it('shows today\'s intervals: offered, answered, abandoned and SL', async () => {
    await page.selectOption('#filter-queue', 'billing');
    await page.selectOption('#interval-size', '60m');
    await expect.poll(() => page.textContent('#intervals-of')).toBe('billing');
    const row = (label: string) => page.locator(`#intervals tr:has(th[scope="row"]:text-is("${label}")) td`).allTextContents();
    // Summed over the day's hours, the strip holds billing's calls: 2 offered, 2 answered.
    const sum = async (label: string) => (await row(label)).reduce((total, cell) => total + Number(cell), 0);
    await expect.poll(() => sum('Offered')).toBe(2);
    expect([await sum('Answered'), await sum('Abandoned')]).toEqual([2, 0]);
    expect((await row('SL')).filter((cell) => cell !== '–').length).toBeGreaterThan(0);
  });

  it('filters agents by queue and status, and sorts them', async () => {
    const shown = () => page.locator('#agents [data-agent]').evaluateAll((tiles) => tiles.map((tile) => tile.getAttribute('data-agent')));
    await expect.poll(shown).toEqual(['ann', 'bob', 'cy']);
    await page.selectOption('#filter-queue', 'sales');
    await expect.poll(shown).toEqual(['bob']);
    await page.selectOption('#filter-queue', '');
    await page.selectOption('#filter-activity', 'after_call_work');
    await expect.poll(shown).toEqual(['ann']);
    await page.selectOption('#filter-activity', '');
    await page.selectOption('#sort', 'handled');
    // ann handled one call; bob and cy none (then by name).
    await expect.poll(shown).toEqual(['ann', 'bob', 'cy']);
    await page.selectOption('#sort', 'activity');
    await expect.poll(shown).toEqual(['cy', 'ann', 'bob']);
  });

  it('takes the ring back on a missed offer: the agent is available again and the caller waits again', async () => {
    await post(hub, [{ type: 'agent.status_changed', data: { agent: 'fay', status: 'available', queues: ['support'] } }]);
    const call = { call_id: 'miss-1', queue: 'support', agent: 'fay' };
    await post(hub, [{ type: 'call.queued', data: { call_id: 'miss-1', queue: 'support' } }, { type: 'call.offered', data: call }]);
    await page.locator('article[data-agent="fay"][data-activity="ringing"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    await post(hub, [{ type: 'call.missed', data: { ...call, ring_s: 15 } }]);
    await page.locator('article[data-agent="fay"][data-activity="available"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    await page.locator('tr[data-call="miss-1"][data-state="queued"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await page.textContent('tr[data-call="miss-1"] td:nth-child(4)')).toBe('');
    // The hub's figures for the day: one missed, none handled.
    const listed = (await (await fetch(`${hub.url}/v1/live/agents`, { headers: { authorization: `Bearer ${READ}` } })).json()) as { agents: { agent: string; today: { missed: number; handled: number } }[] };
    expect(listed.agents.find((agent) => agent.agent === 'fay')?.today).toMatchObject({ missed: 1, handled: 0 });
    // The caller leaves: nothing of the call stays on the board.
    await post(hub, [{ type: 'call.abandoned', data: { call_id: 'miss-1', queue: 'support', reason: 'caller_hungup' } }]);
    await page.locator('tr[data-call="miss-1"]').waitFor({ state: 'detached', timeout: SHOWN_WITHIN_MS });
  });

  it('hides agents offline since before today\'s reset, not those who went offline today', async () => {
    await post(hub, [
      { type: 'agent.status_changed', time: ago(3 * 86_400_000), data: { agent: 'gone', status: 'offline' } },
      { type: 'agent.status_changed', data: { agent: 'dee', status: 'offline' } },
    ]);
    await page.locator('[data-agent="dee"][data-activity="offline"]').waitFor({ timeout: SHOWN_WITHIN_MS });
    expect(await page.locator('[data-agent="dee"] .state').textContent()).toBe('Offline');
    // The hub still lists the agent: the page is what leaves it out.
    const listed = (await (await fetch(`${hub.url}/v1/live/agents`, { headers: { authorization: `Bearer ${READ}` } })).json()) as { agents: { agent: string; activity: string }[] };
    expect(listed.agents.find((agent) => agent.agent === 'gone')).toMatchObject({ activity: 'offline' });
    expect(await page.locator('[data-agent="gone"]').count()).toBe(0);
  });

  it('has no serious or critical accessibility violations on the wall screen, the phone and the sign-in form', async () => {
    expect(await seriousViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await seriousViolations(page)).toEqual([]);
    await page.setViewportSize({ width: 1920, height: 1080 });
    const signin = await (await browser.newContext({ bypassCSP: true })).newPage();
    await signin.goto(`${hub.url}/board`);
    await signin.locator('#signin').waitFor({ state: 'visible' });
    expect(await seriousViolations(signin)).toEqual([]);
    await signin.close();
  });

  it('never scrolls sideways on a 390 px phone', async () => {
    const phone = await browser.newPage({ viewport: { width: 390, height: 844 } });
    await phone.goto(`${hub.url}/board`);
    await phone.fill('#token', READ);
    await phone.click('button[type=submit]');
    await phone.locator('#connection[data-state="live"]').waitFor();
    await phone.locator('article[data-queue="billing"]').waitFor();
    await phone.locator('[data-agent="ann"]').waitFor();
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    await phone.close();
  });

  it('shows the board without a sign-in when the hub has no token', async () => {
    const open = await startHub(redis.url, { keyPrefix: 'sbboardopen', auth: { apiToken: undefined } });
    try {
      expect(await (await fetch(`${open.url}/board/access`)).json()).toEqual({ token_required: false });
      const visitor = await browser.newPage();
      await visitor.goto(`${open.url}/board`);
      await visitor.locator('#connection[data-state="live"]').waitFor();
      expect([await visitor.isVisible('#signin'), await visitor.isVisible('#signout')]).toEqual([false, false]);
      expect((await postEvents(open.url, [{ type: 'agent.status_changed', data: { agent: 'eve', status: 'on_break', reason: 'Lunch' } }], '')).status).toBe(202);
      await visitor.locator('[data-agent="eve"][data-activity="on_break"]').waitFor({ timeout: SHOWN_WITHIN_MS });
      expect(await visitor.textContent('[data-agent="eve"] .state')).toBe('On break · Lunch');
      await visitor.close();
    } finally {
      await open.close();
    }
  });
});
