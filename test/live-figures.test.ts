import { describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { AcceptedEvent } from '../src/events/catalogue.js';
import { AlertWatcher } from '../src/live/alerts.js';
import type { HubEventDraft } from '../src/log/hub-events.js';
import { LiveProjection } from '../src/live/projection.js';
import { agentsView, intervalsView, queuesView } from '../src/live/views.js';
import { checkEvent } from '../src/events/check.js';
import { scenarioEvents } from '../src/sandbox/scenarios.js';
import { EventFilter } from '../src/stream/filter.js';

/*
 * A scripted day, applied to the projection event by event. Every expected figure is worked out
 * here from the script's own times (named below), never read back from the projection.
 *
 * The floor: queues sales and support; amy serves both, bob sales, cat support, dan logged off
 * yesterday. The business day starts at midnight in New York (05:00 UTC in December), and the
 * day opens with amy on a call that began before midnight.
 */
const ZONE = 'America/New_York';
const DAY_START = Date.parse('2026-12-07T05:00:00Z');
const min = (minutes: number, seconds = 0) => DAY_START + minutes * 60_000 + seconds * 1000;
const NOW = min(102);
const SL_MS = 20_000;
const SHORT_MS = 5_000;

// Call times.
const y1 = { queued: min(-10), offered: min(-9, -50), connected: min(-9, -40), ended: min(10) };
const c1 = { queued: min(20), offeredAmy: min(20, 5), missedAmy: min(20, 20), offeredBob: min(20, 21), connected: min(20, 25), held: min(22), resumed: min(23), ended: min(25) };
const c2 = { queued: min(30), offered: min(30, 2), connected: min(30, 10), ended: min(40) };
const c3 = { queued: min(41), abandoned: min(41, 3) };
const c4 = { queued: min(42), abandoned: min(43) };
const c5 = { queued: min(50), offered: min(50, 1), connected: min(50, 5), ended: min(55) };
const c6 = { queued: min(100) };
// Agents' own statuses.
const amyWrap = [
  [y1.ended, min(10, 30)],
  [c5.ended, min(57)],
] as const;
const bobWrap = [c1.ended, min(26)] as const;
const catWrap = [c2.ended, min(40, 20)] as const;
const bobNotReady = [min(60), min(90)] as const;
const catBreak = min(95);

function script(): AcceptedEvent[] {
  const events: { at: number; type: string; data: Record<string, unknown> }[] = [];
  const at = (ms: number, type: string, data: Record<string, unknown>) => events.push({ at: ms, type, data });
  const status = (ms: number, agent: string, value: string, extra: Record<string, unknown> = {}) => at(ms, 'agent.status_changed', { agent, status: value, ...extra });
  status(min(-20), 'amy', 'available', { queues: ['sales', 'support'] });
  status(min(-20), 'bob', 'available', { queues: ['sales'] });
  status(min(-20), 'cat', 'available', { queues: ['support'] });
  status(min(-30), 'dan', 'available', { queues: ['sales'] });
  status(min(-15), 'dan', 'offline', { queues: [] });
  // y1: answered yesterday, ended today.
  at(y1.queued, 'call.queued', { call_id: 'y1', queue: 'sales' });
  at(y1.offered, 'call.offered', { call_id: 'y1', queue: 'sales', agent: 'amy' });
  at(y1.connected, 'call.connected', { call_id: 'y1', queue: 'sales', agent: 'amy' });
  at(y1.ended, 'call.ended', { call_id: 'y1', queue: 'sales', agent: 'amy' });
  status(amyWrap[0][0], 'amy', 'wrapup');
  status(amyWrap[0][1], 'amy', 'available');
  // c1: amy misses it, bob answers after 25 s, holds a minute.
  at(c1.queued, 'call.queued', { call_id: 'c1', queue: 'sales' });
  at(c1.offeredAmy, 'call.offered', { call_id: 'c1', queue: 'sales', agent: 'amy' });
  at(c1.missedAmy, 'call.missed', { call_id: 'c1', queue: 'sales', agent: 'amy', reason_raw: 'AgentRingNoAnswer' });
  at(c1.offeredBob, 'call.offered', { call_id: 'c1', queue: 'sales', agent: 'bob' });
  at(c1.connected, 'call.connected', { call_id: 'c1', queue: 'sales', agent: 'bob' });
  at(c1.held, 'call.held', { call_id: 'c1', agent: 'bob' });
  at(c1.resumed, 'call.resumed', { call_id: 'c1', agent: 'bob' });
  at(c1.ended, 'call.ended', { call_id: 'c1', queue: 'sales', agent: 'bob' });
  status(bobWrap[0], 'bob', 'wrapup');
  status(bobWrap[1], 'bob', 'available');
  // c2: rung at amy and cat at once (ringall); cat answers.
  at(c2.queued, 'call.queued', { call_id: 'c2', queue: 'support' });
  at(c2.offered, 'call.offered', { call_id: 'c2', queue: 'support', agent: 'amy' });
  at(c2.offered, 'call.offered', { call_id: 'c2', queue: 'support', agent: 'cat' });
  at(c2.connected, 'call.connected', { call_id: 'c2', queue: 'support', agent: 'cat' });
  at(c2.ended, 'call.ended', { call_id: 'c2', queue: 'support', agent: 'cat' });
  status(catWrap[0], 'cat', 'wrapup');
  status(catWrap[1], 'cat', 'available');
  // c3 hangs up at once (a short abandon), c4 after a minute.
  at(c3.queued, 'call.queued', { call_id: 'c3', queue: 'sales' });
  at(c3.abandoned, 'call.abandoned', { call_id: 'c3', queue: 'sales', reason: 'caller_hungup' });
  at(c4.queued, 'call.queued', { call_id: 'c4', queue: 'sales' });
  at(c4.abandoned, 'call.abandoned', { call_id: 'c4', queue: 'sales', reason: 'caller_hungup' });
  // c5: amy, the agent the two queues share, takes a support call.
  at(c5.queued, 'call.queued', { call_id: 'c5', queue: 'support' });
  at(c5.offered, 'call.offered', { call_id: 'c5', queue: 'support', agent: 'amy' });
  at(c5.connected, 'call.connected', { call_id: 'c5', queue: 'support', agent: 'amy' });
  at(c5.ended, 'call.ended', { call_id: 'c5', queue: 'support', agent: 'amy' });
  status(amyWrap[1][0], 'amy', 'wrapup');
  status(amyWrap[1][1], 'amy', 'available');
  status(bobNotReady[0], 'bob', 'not_ready', { reason: 'lunch' });
  status(bobNotReady[1], 'bob', 'available');
  status(catBreak, 'cat', 'on_break', { reason: 'training' });
  // c6 is still waiting now.
  at(c6.queued, 'call.queued', { call_id: 'c6', queue: 'sales' });
  // Stable: same-time events keep the script's order.
  return events
    .map((event, index) => ({ ...event, index }))
    .sort((a, b) => a.at - b.at || a.index - b.index)
    .map((event, index) => ({ id: `day-${index}`, type: event.type, time: new Date(event.at).toISOString(), source: 'scripted', data: event.data }) as AcceptedEvent);
}

const config = parseConfig({
  live: {
    resetTime: '00:00',
    timeZone: ZONE,
    serviceLevelThresholdMs: SL_MS,
    shortAbandonMs: SHORT_MS,
    queues: { sales: { alerts: { serviceLevelBelowPct: 80, longestWaitOverS: 60 } }, support: { alerts: { serviceLevelBelowPct: 80 } } },
    alerts: { afterCallWorkOverS: 90, notReadyOverS: 300 },
  },
}).live;

const events = script();
/** The projection with every event of the script up to `untilMs` applied. */
function projectionAt(untilMs: number): LiveProjection {
  const projection = new LiveProjection(config);
  events.forEach((event, index) => {
    if (Date.parse(event.time) <= untilMs) projection.apply(event, `${index + 1}-0`);
  });
  return projection;
}

const everyone = EventFilter.scopeOnly(undefined, undefined);
const page = { limit: 500 };
const s = (ms: number) => ms / 1000;
const round = (value: number) => Math.round(value * 10) / 10;
const iso = (ms: number) => new Date(ms).toISOString();

async function agentsAt(nowMs: number) {
  const body = await agentsView(projectionAt(nowMs), everyone, page, nowMs);
  return new Map(body.agents.map((agent) => [agent.agent, agent]));
}

describe('live figures of a scripted day (reset at midnight New York time)', () => {
  it('shows ringing from the offer until it is answered elsewhere or missed, and hold while the caller is held', async () => {
    let agents = await agentsAt(min(20, 10));
    expect(agents.get('amy')).toMatchObject({ status: 'available', activity: 'ringing', activity_since: iso(c1.offeredAmy), call: { call_id: 'c1', state: 'offered' } });
    agents = await agentsAt(min(20, 22));
    expect(agents.get('amy')).toMatchObject({ activity: 'available', activity_since: iso(c1.missedAmy), call: null, today: { missed: 1 } });
    expect(agents.get('bob')).toMatchObject({ activity: 'ringing', activity_since: iso(c1.offeredBob) });
    agents = await agentsAt(min(22, 30));
    expect(agents.get('bob')).toMatchObject({ activity: 'on_hold', activity_since: iso(c1.held), call: { call_id: 'c1', state: 'connected', held: true } });
    agents = await agentsAt(min(25, 30));
    expect(agents.get('bob')).toMatchObject({ status: 'wrapup', activity: 'after_call_work', activity_since: iso(bobWrap[0]) });
    // Offered to two at once: both ring; the answer ends the other's ringing (not a miss).
    agents = await agentsAt(min(30, 5));
    expect([agents.get('amy')?.activity, agents.get('cat')?.activity]).toEqual(['ringing', 'ringing']);
    agents = await agentsAt(min(30, 10));
    expect(agents.get('amy')).toMatchObject({ activity: 'available', activity_since: iso(c2.connected), today: { missed: 1 } });
    expect(agents.get('cat')).toMatchObject({ activity: 'on_call', activity_since: iso(c2.connected) });
    agents = await agentsAt(min(70));
    expect(agents.get('bob')).toMatchObject({ status: 'not_ready', activity: 'not_ready', reason: 'lunch', activity_since: iso(bobNotReady[0]) });
  });

  it("gives each agent today's handled, missed, talk, hold, after-call work, handle time and occupancy", async () => {
    const agents = await agentsAt(NOW);
    const loggedIn = s(NOW - DAY_START);
    // amy: y1's talk only from midnight; c5; rang on c1 (missed), c2 and c5.
    const amyTalk = s(y1.ended - DAY_START) + s(c5.ended - c5.connected);
    const amyAcw = s(amyWrap[0][1] - amyWrap[0][0]) + s(amyWrap[1][1] - amyWrap[1][0]);
    expect(agents.get('amy')).toMatchObject({
      activity: 'available',
      activity_since: iso(amyWrap[1][1]),
      queues: ['sales', 'support'],
      reason: null,
      today: {
        handled: 2,
        missed: 1,
        talk_s: amyTalk,
        hold_s: 0,
        acw_s: amyAcw,
        aht_s: round((amyTalk + amyAcw) / 2),
        not_ready_s: 0,
        occupancy_pct: round((100 * (amyTalk + amyAcw)) / loggedIn),
      },
      alerts: [],
    });
    const bobHold = s(c1.resumed - c1.held);
    const bobTalk = s(c1.ended - c1.connected) - bobHold;
    const bobAcw = s(bobWrap[1] - bobWrap[0]);
    const bobNotReadyS = s(bobNotReady[1] - bobNotReady[0]);
    expect(agents.get('bob')?.today).toEqual({
      handled: 1,
      missed: 0,
      talk_s: bobTalk,
      hold_s: bobHold,
      acw_s: bobAcw,
      aht_s: bobTalk + bobHold + bobAcw,
      not_ready_s: bobNotReadyS,
      occupancy_pct: round((100 * (bobTalk + bobHold + bobAcw)) / (loggedIn - bobNotReadyS)),
    });
    const catTalk = s(c2.ended - c2.connected);
    const catAcw = s(catWrap[1] - catWrap[0]);
    const catBreakS = s(NOW - catBreak);
    expect(agents.get('cat')).toMatchObject({
      activity: 'on_break',
      reason: 'training',
      today: { handled: 1, talk_s: catTalk, acw_s: catAcw, aht_s: catTalk + catAcw, not_ready_s: catBreakS, occupancy_pct: round((100 * (catTalk + catAcw)) / (loggedIn - catBreakS)) },
      // On a break for 420 s, over the 300 s threshold since 300 s into it.
      alerts: [{ code: 'not_ready_over', since: iso(catBreak + 300_000) }],
    });
    // Logged off before the reset: nothing today, and handle time and occupancy are undefined.
    expect(agents.get('dan')).toMatchObject({
      activity: 'offline',
      queues: [],
      today: { handled: 0, missed: 0, talk_s: 0, hold_s: 0, acw_s: 0, aht_s: null, not_ready_s: 0, occupancy_pct: null },
    });
  });

  it("gives each queue today's abandon rate, ASA, AHT, max wait and alerts; a shared agent counts once in the totals", async () => {
    const body = await queuesView(projectionAt(NOW), everyone, page, NOW);
    expect(body).toMatchObject({ day: '2026-12-07', reset_time: '00:00', time_zone: ZONE });
    const [sales, support] = body.queues;
    // sales today: c1 answered (25 s wait, over the SL), c3 short abandon, c4 abandon, c6 waiting;
    // y1 was offered and answered yesterday; its talk and after-call work count on the day they ended.
    const salesTalk = s(y1.ended - y1.connected) + s(c1.ended - c1.connected);
    const salesAcw = s(amyWrap[0][1] - amyWrap[0][0]) + s(bobWrap[1] - bobWrap[0]);
    expect(sales).toMatchObject({
      queue: 'sales',
      waiting: 1,
      longest_wait_since: iso(c6.queued),
      max_wait_s: s(NOW - c6.queued),
      offered: 4,
      answered: 1,
      answered_within_sl: 0,
      abandoned: 2,
      short_abandons: 1,
      abandon_rate_pct: 50,
      service_level_pct: 0,
      asa_s: s(c1.connected - c1.queued),
      aht_s: round((salesTalk + salesAcw) / 2),
      average_talk_s: round(salesTalk / 2),
      // amy and bob; dan left every queue when he logged off.
      agents: { total: 2, available: 2, offline: 0 },
      alerts: [
        // Under 80 % from c1's answer (0 of 1 within 20 s) on; c6 over 60 s since 60 s after it joined.
        { code: 'service_level_below', since: iso(c1.connected) },
        { code: 'longest_wait_over', since: iso(c6.queued + 60_000) },
      ],
    });
    const supportAcw = s(catWrap[1] - catWrap[0]) + s(amyWrap[1][1] - amyWrap[1][0]);
    const supportTalk = s(c2.ended - c2.connected) + s(c5.ended - c5.connected);
    expect(support).toMatchObject({
      queue: 'support',
      offered: 2,
      answered: 2,
      abandoned: 0,
      abandon_rate_pct: 0,
      service_level_pct: 100,
      asa_s: round((s(c2.connected - c2.queued) + s(c5.connected - c5.queued)) / 2),
      aht_s: round((supportTalk + supportAcw) / 2),
      max_wait_s: 0,
      alerts: [],
    });
    // amy serves both queues and counts once.
    expect(body.totals).toMatchObject({ offered: 6, answered: 3, abandoned: 2, abandon_rate_pct: round((100 * 2) / 6), agents: { total: 4 } });
  });

  it('splits the day into intervals from the local midnight', async () => {
    const body = await intervalsView(projectionAt(NOW), everyone, { ...page, size: '30m' }, NOW);
    expect(body.day).toBe('2026-12-07');
    const [sales, support] = body.queues;
    const starts = [0, 30, 60, 90].map((minutes) => iso(min(minutes)));
    expect(sales?.intervals.map((interval) => interval.start)).toEqual(starts);
    expect(sales?.intervals.at(-1)?.end).toBe(iso(min(120)));
    const empty = { offered: 0, answered: 0, abandoned: 0, abandon_rate_pct: null, service_level_pct: null, asa_s: null, aht_s: null };
    // 00:00–00:30: c1 offered and answered; y1 and c1 ended (talk), amy's and bob's after-call work closed.
    const firstTalk = s(y1.ended - y1.connected) + s(c1.ended - c1.connected);
    const firstAcw = s(amyWrap[0][1] - amyWrap[0][0]) + s(bobWrap[1] - bobWrap[0]);
    expect(sales?.intervals.map(({ start: _start, end: _end, ...figures }) => figures)).toEqual([
      { offered: 1, answered: 1, abandoned: 0, abandon_rate_pct: 0, service_level_pct: 0, asa_s: s(c1.connected - c1.queued), aht_s: round((firstTalk + firstAcw) / 2) },
      // c3 (short) and c4 abandoned: the short one leaves the service level's base.
      { offered: 2, answered: 0, abandoned: 2, abandon_rate_pct: 100, service_level_pct: 0, asa_s: null, aht_s: null },
      empty,
      { ...empty, offered: 1, abandon_rate_pct: 0 },
    ]);
    const supportTalk = s(c2.ended - c2.connected) + s(c5.ended - c5.connected);
    const supportAcw = s(catWrap[1] - catWrap[0]) + s(amyWrap[1][1] - amyWrap[1][0]);
    expect(support?.intervals[1]).toMatchObject({ offered: 2, answered: 2, service_level_pct: 100, asa_s: 7.5, aht_s: round((supportTalk + supportAcw) / 2) });
    // 15-minute intervals add up to the 30-minute ones.
    const fine = await intervalsView(projectionAt(NOW), everyone, { ...page, size: '15m' }, NOW);
    expect(fine.queues[0]?.intervals).toHaveLength(7);
    expect(fine.queues[0]?.intervals.slice(2, 4).reduce((sum, interval) => sum + interval.abandoned, 0)).toBe(2);
  });

  it('finds each alert once, when it begins, with its value and threshold', () => {
    const projection = new LiveProjection(config);
    const watcher = new AlertWatcher(projection);
    const found: { at: number; event: HubEventDraft }[] = [];
    // Checked as the hub does, every 250 ms of the day, applying events as their time comes.
    let next = 0;
    for (let t = min(-20); t <= NOW; t += 250) {
      while (next < events.length && Date.parse(events[next]!.time) <= t) projection.apply(events[next]!, `${++next}-0`);
      for (const event of watcher.check(t)) found.push({ at: t, event });
    }
    expect(found.map(({ event }) => [event.data.code, event.data.queue ?? event.data.agent, event.data.since, event.time])).toEqual([
      // amy's first after-call work lasted 30 s (under 90 s); her second 120 s: over at 90 s.
      ['service_level_below', 'sales', iso(c1.connected), iso(c1.connected)],
      ['after_call_work_over', 'amy', iso(amyWrap[1][0] + 90_000), iso(amyWrap[1][0] + 90_000)],
      ['not_ready_over', 'bob', iso(bobNotReady[0] + 300_000), iso(bobNotReady[0] + 300_000)],
      ['not_ready_over', 'cat', iso(catBreak + 300_000), iso(catBreak + 300_000)],
      ['longest_wait_over', 'sales', iso(c6.queued + 60_000), iso(c6.queued + 60_000)],
    ]);
    // Found within one check of beginning.
    for (const { at, event } of found) expect(at - Date.parse(String(event.data.since))).toBeLessThan(250 + 1);
    expect(found[0]?.event.data).toEqual({ code: 'service_level_below', since: iso(c1.connected), queue: 'sales', value: 0, threshold: 80 });
    expect(found[1]?.event.data).toMatchObject({ agent: 'amy', value: 90, threshold: 90 });
    // The id derives from the alert: another node following the same log writes the same event.
    const again = new AlertWatcher(projectionAt(NOW)).check(NOW);
    expect(again.map((event) => event.id).sort()).toEqual(found.filter(({ event }) => ['cat', 'sales'].includes(String(event.data.agent ?? event.data.queue))).map(({ event }) => event.id).sort());
  });

  it("the sandbox's missed-call scenario passes the catalogue and reads as a miss, a hold and after-call work", async () => {
    const now = new Date(min(80));
    const scenario = scenarioEvents('missed-call', { agent: 'zoe', queue: 'sales', campaign: 'spring', now });
    for (const event of scenario) expect(checkEvent(event as AcceptedEvent, 0)).toEqual([]);
    const projection = new LiveProjection(config);
    scenario.forEach((event, index) => projection.apply(event as AcceptedEvent, `${index + 1}-0`));
    const { agents } = await agentsView(projection, everyone, page, now.getTime() + 5_000);
    expect(agents[0]).toMatchObject({ agent: 'zoe', activity: 'after_call_work', today: { handled: 1, missed: 1, hold_s: 10, talk_s: 32, acw_s: 5 } });
  });

  it('live.serviceLevelFormula answered leaves abandons out of the service level', async () => {
    const answeredOnly = new LiveProjection({ ...config, serviceLevelFormula: 'answered' });
    events.forEach((event, index) => answeredOnly.apply(event, `${index + 1}-0`));
    const byDefault = await queuesView(projectionAt(NOW), everyone, page, NOW);
    const body = await queuesView(answeredOnly, everyone, page, NOW);
    // Today: c2 and c5 answered within 20 s, c1 not; c3 (short) and c4 abandoned.
    expect([byDefault.totals.service_level_pct, body.totals.service_level_pct]).toEqual([round((100 * 2) / (3 + 2 - 1)), round((100 * 2) / 3)]);
    const intervals = await intervalsView(answeredOnly, everyone, { ...page, size: '30m' }, NOW);
    // 00:30–01:00 in sales: only abandons, nothing to measure.
    expect(intervals.queues[0]?.intervals[1]).toMatchObject({ abandoned: 2, service_level_pct: null, abandon_rate_pct: 100 });
  });
});
