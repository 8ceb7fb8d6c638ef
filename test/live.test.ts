import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/**
 * A scripted day on a two-queue floor. The expected figures are computed here from the script
 * itself (each call's times), not from the events the hub receives.
 */
interface ScriptedCall {
  id: string;
  queue: 'sales' | 'support';
  queuedMs: number;
  outcome: 'answered' | 'abandoned' | 'waiting' | 'talking';
  waitMs: number;
  talkMs: number;
  agent?: string;
}

const ZONE = 'Africa/Johannesburg'; // UTC+2 all year
const SALES_SL_MS = 30_000;
const DEFAULT_SL_MS = 20_000;
const SHORT_ABANDON_MS = 5_000;

function localHhmm(ms: number): string {
  return new Intl.DateTimeFormat('en-GB', { timeZone: ZONE, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).format(new Date(ms));
}

function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

function scriptDay(dayStartMs: number, nowMs: number) {
  const random = seeded(42);
  const agents = { sales: ['2001', '2002', '2003', '2007'], support: ['2004', '2005', '2006', '2007'] } as const;
  const busyUntil = new Map<string, number>();
  const calls: ScriptedCall[] = [];
  let t = dayStartMs + 60_000;
  for (let n = 0; n < 120; n += 1) {
    t += 20_000 + Math.floor(random() * 120_000);
    const queue = random() < 0.55 ? 'sales' : 'support';
    const roll = random();
    if (roll < 0.2) {
      // Some hang up at once (short abandons), the rest after a while.
      const waitMs = random() < 0.4 ? Math.floor(random() * 4_000) : 6_000 + Math.floor(random() * 90_000);
      calls.push({ id: `day-${n}`, queue, queuedMs: t, outcome: 'abandoned', waitMs, talkMs: 0 });
      continue;
    }
    const candidates = agents[queue].filter((agent) => (busyUntil.get(agent) ?? 0) < t);
    const agent = candidates[Math.floor(random() * candidates.length)];
    if (!agent) {
      calls.push({ id: `day-${n}`, queue, queuedMs: t, outcome: 'abandoned', waitMs: 45_000, talkMs: 0 });
      continue;
    }
    const waitMs = Math.floor(random() * 60_000);
    const talkMs = 30_000 + Math.floor(random() * 400_000);
    busyUntil.set(agent, t + waitMs + talkMs + 10_000);
    calls.push({ id: `day-${n}`, queue, queuedMs: t, outcome: 'answered', waitMs, talkMs, agent });
  }
  // Still in progress at the end of the script: two waiting, one talking.
  calls.push({ id: 'wait-1', queue: 'sales', queuedMs: nowMs - 95_000, outcome: 'waiting', waitMs: 0, talkMs: 0 });
  calls.push({ id: 'wait-2', queue: 'sales', queuedMs: nowMs - 40_000, outcome: 'waiting', waitMs: 0, talkMs: 0 });
  calls.push({ id: 'talk-1', queue: 'support', queuedMs: nowMs - 200_000, outcome: 'talking', waitMs: 12_000, talkMs: 0, agent: '2005' });
  return { calls, agentIds: [...new Set([...agents.sales, ...agents.support])] };
}

function eventsOf(calls: ScriptedCall[], agentIds: string[], dayStartMs: number, yesterdayMs: number) {
  const timed: { at: number; event: Record<string, unknown> }[] = [];
  const at = (ms: number, type: string, data: Record<string, unknown>) =>
    timed.push({ at: ms, event: { type, time: new Date(ms).toISOString(), source: 'scripted-acd', data } });
  // Yesterday's business: must not count today.
  at(yesterdayMs, 'call.queued', { call_id: 'old-1', queue: 'sales' });
  at(yesterdayMs + 5_000, 'call.offered', { call_id: 'old-1', queue: 'sales', agent: '2001' });
  at(yesterdayMs + 5_000, 'call.connected', { call_id: 'old-1', queue: 'sales', agent: '2001' });
  at(yesterdayMs + 65_000, 'call.ended', { call_id: 'old-1', queue: 'sales', agent: '2001' });
  for (const agent of agentIds) at(dayStartMs + 1_000, 'agent.status_changed', { agent, status: 'available' });
  for (const call of calls) {
    at(call.queuedMs, 'call.queued', { call_id: call.id, queue: call.queue, caller_id: '+27215550000' });
    if (call.outcome === 'abandoned') {
      at(call.queuedMs + call.waitMs, 'call.abandoned', { call_id: call.id, queue: call.queue, reason: 'caller_hungup' });
    } else if (call.outcome === 'answered' || call.outcome === 'talking') {
      const answered = call.queuedMs + call.waitMs;
      at(answered - 1, 'call.offered', { call_id: call.id, queue: call.queue, agent: call.agent });
      at(answered, 'call.connected', { call_id: call.id, queue: call.queue, agent: call.agent });
      at(answered, 'agent.status_changed', { agent: call.agent, status: 'busy' });
      if (call.outcome === 'answered') {
        at(answered + call.talkMs, 'call.ended', { call_id: call.id, queue: call.queue, agent: call.agent, ended_by: 'caller' });
        at(answered + call.talkMs, 'agent.status_changed', { agent: call.agent, status: 'wrapup' });
        at(answered + call.talkMs + 5_000, 'agent.status_changed', { agent: call.agent, status: 'available' });
      }
    }
  }
  timed.sort((a, b) => a.at - b.at);
  return timed.map((item, index) => ({ id: `scripted-${index}`, ...item.event }) as { id: string; type: string; time: string; data: Record<string, unknown> });
}

function expected(calls: ScriptedCall[], queue?: 'sales' | 'support') {
  const mine = calls.filter((call) => queue === undefined || call.queue === queue);
  const slOf = (call: ScriptedCall) => (call.queue === 'sales' ? SALES_SL_MS : DEFAULT_SL_MS);
  const answered = mine.filter((call) => call.outcome === 'answered' || call.outcome === 'talking');
  const abandoned = mine.filter((call) => call.outcome === 'abandoned');
  const short = abandoned.filter((call) => call.waitMs < SHORT_ABANDON_MS);
  const within = answered.filter((call) => call.waitMs <= slOf(call));
  const ended = mine.filter((call) => call.outcome === 'answered');
  const waiting = mine.filter((call) => call.outcome === 'waiting');
  const round = (value: number) => Math.round(value * 10) / 10;
  return {
    offered: mine.length,
    answered: answered.length,
    answered_within_sl: within.length,
    abandoned: abandoned.length,
    short_abandons: short.length,
    service_level_pct: round((100 * within.length) / (answered.length + abandoned.length - short.length)),
    average_wait_s: round(answered.reduce((sum, call) => sum + call.waitMs, 0) / answered.length / 1000),
    average_talk_s: round(ended.reduce((sum, call) => sum + call.talkMs, 0) / ended.length / 1000),
    waiting: waiting.length,
    longest_wait_since: waiting.length ? new Date(Math.min(...waiting.map((call) => call.queuedMs))).toISOString() : null,
  };
}

const ACME = 'acme-live-reader-0123456789';
const GLOBEX = 'globex-live-reader-0123456789';

describe('live state: a projection of the event log', () => {
  let redis: TestRedis;
  let hub: Hub;
  const nowMs = Date.now();
  const dayStartMs = nowMs - 10 * 3_600_000;
  const config = {
    live: {
      resetTime: localHhmm(dayStartMs + 60_000),
      timeZone: ZONE,
      serviceLevelThresholdMs: DEFAULT_SL_MS,
      shortAbandonMs: SHORT_ABANDON_MS,
      queues: { sales: { serviceLevelThresholdMs: SALES_SL_MS } },
      staleCallMs: 24 * 3_600_000,
    },
    auth: {
      tokens: [
        { name: 'acme', token: ACME, roles: ['read'], scope: { domain: 'acme.example' } },
        { name: 'globex', token: GLOBEX, roles: ['read'], scope: { domain: 'globex.example' } },
      ],
    },
  };
  const script = scriptDay(dayStartMs + 60_000, nowMs);
  const events = eventsOf(script.calls, script.agentIds, dayStartMs + 60_000, dayStartMs - 3_600_000);
  const live = async (target: Hub, path: string, token?: string) => {
    let answer: Awaited<ReturnType<typeof api>> | undefined;
    await waitFor(async () => (answer = await api(target.url, 'GET', path, undefined, token)).status !== 503, 20_000, `${path} to answer`);
    return answer as Awaited<ReturnType<typeof api>>;
  };

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, config);
    for (let i = 0; i < events.length; i += 500) expect((await postEvents(hub.url, events.slice(i, i + 500))).status).toBe(202);
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  const waitForAll = async (target: Hub) => {
    const head = (await api(hub.url, 'GET', '/readyz')).body;
    void head;
    await waitFor(async () => (await live(target, '/v1/live/queues')).body.totals.offered === script.calls.length, 20_000, 'every scripted call');
  };

  it('computes the day\'s queue figures as counted independently from the script', async () => {
    await waitForAll(hub);
    const { body } = await live(hub, '/v1/live/queues');
    expect(body.time_zone).toBe(ZONE);
    expect(body.queues.map((queue: { queue: string }) => queue.queue)).toEqual(['sales', 'support']);
    for (const name of ['sales', 'support'] as const) {
      const queue = body.queues.find((entry: { queue: string }) => entry.queue === name);
      expect(queue).toMatchObject(expected(script.calls, name));
      expect(queue.service_level_threshold_s).toBe(name === 'sales' ? 30 : 20);
    }
    const totals = expected(script.calls);
    for (const field of ['offered', 'answered', 'answered_within_sl', 'abandoned', 'short_abandons', 'average_wait_s', 'average_talk_s', 'waiting', 'longest_wait_since'] as const) {
      expect(body.totals[field], field).toEqual(totals[field]);
    }
    // Per-queue thresholds differ, so the total service level is the sum of each queue's hits.
    const sales = expected(script.calls, 'sales');
    const support = expected(script.calls, 'support');
    expect(body.totals.service_level_pct).toBe(
      Math.round((1000 * (sales.answered_within_sl + support.answered_within_sl)) / (totals.answered + totals.abandoned - totals.short_abandons)) / 10,
    );
    // Agent 2007 works both queues: once in each queue's agents, once in the totals.
    const inQueues = body.queues.reduce((sum: number, queue: { agents: { total: number } }) => sum + queue.agents.total, 0);
    expect(body.totals.agents.total).toBe(script.agentIds.length);
    expect(inQueues).toBe(script.agentIds.length + 1);
    expect(typeof body.as_of).toBe('string');
    expect(body.position).toMatch(/^\d+-\d+$/);
  });

  it('lists agents with status and since, and calls in progress', async () => {
    const { body: agents } = await live(hub, '/v1/live/agents');
    const byId = new Map<string, Record<string, unknown>>(agents.agents.map((agent: Record<string, unknown>) => [agent.agent, agent]));
    expect([...byId.keys()].sort()).toEqual([...script.agentIds].sort());
    const talking = byId.get('2005') as { status: string; call: { call_id: string; state: string; since: string } };
    expect(talking.status).toBe('busy');
    const talk = script.calls.find((call) => call.id === 'talk-1') as ScriptedCall;
    expect(talking.call).toMatchObject({ call_id: 'talk-1', state: 'connected', since: new Date(talk.queuedMs + talk.waitMs).toISOString() });
    // Every other agent: the last status the script gave it, since then.
    const lastStatus = new Map<string, { status: string; time: string }>();
    for (const event of events) {
      if (event.type !== 'agent.status_changed') continue;
      const data = event.data as { agent: string; status: string };
      if (lastStatus.get(data.agent)?.status !== data.status) lastStatus.set(data.agent, { status: data.status, time: event.time as string });
    }
    for (const [agent, { status, time }] of lastStatus) expect(byId.get(agent)).toMatchObject({ status, status_since: time });

    const { body: calls } = await live(hub, '/v1/live/calls');
    expect(calls.calls.map((call: { call_id: string; state: string }) => [call.call_id, call.state])).toEqual([
      ['talk-1', 'connected'],
      ['wait-1', 'queued'],
      ['wait-2', 'queued'],
    ]);
  });

  /**
   * An answer without what moves with the clock between two reads: `as_of`, the longest wait so
   * far, and the time in each agent's current activity (counts and closed times stay).
   */
  const withoutClock = (body: Record<string, unknown>): unknown =>
    JSON.parse(JSON.stringify({ ...body, as_of: 'x' }), (key, value: unknown) => {
      if (key === 'max_wait_s') return undefined;
      if (key === 'today' && value && typeof value === 'object') {
        const { handled, missed } = value as { handled: number; missed: number };
        return { handled, missed };
      }
      return value;
    });

  it('rebuilds the same state after a restart, and a second node agrees', async () => {
    const before = (await live(hub, '/v1/live/queues')).body;
    const agentsBefore = (await live(hub, '/v1/live/agents')).body;
    await hub.close();
    hub = await startHub(redis.url, config);
    const second = await startHub(redis.url, config);
    try {
      for (const node of [hub, second]) {
        await waitForAll(node);
        const after = (await live(node, '/v1/live/queues')).body;
        expect(withoutClock(after)).toEqual(withoutClock(before));
        const agentsAfter = (await live(node, '/v1/live/agents')).body;
        expect(withoutClock(agentsAfter)).toEqual(withoutClock(agentsBefore));
      }
    } finally {
      await second.close();
    }
  });

  it('takes the wait from queued_at when a source reports a call first at its answer', async () => {
    const answeredMs = Date.now() - 60_000;
    const queuedAt = new Date(answeredMs - 25_000).toISOString();
    const call = { call_id: 'direct-1', queue: 'direct', agent: '3001', queued_at: queuedAt };
    const time = new Date(answeredMs).toISOString();
    expect((await postEvents(hub.url, [{ type: 'call.offered', time, data: call }, { type: 'call.connected', time, data: call }])).status).toBe(202);
    let queue: Record<string, unknown> | undefined;
    await waitFor(async () => {
      queue = (await live(hub, '/v1/live/queues')).body.queues.find((entry: { queue: string }) => entry.queue === 'direct');
      return queue !== undefined;
    });
    // 25 s against the default 20 s threshold: answered, not within the service level.
    expect(queue).toMatchObject({ offered: 1, answered: 1, answered_within_sl: 0, average_wait_s: 25, waiting: 0 });
  });

  it('shows a tenant-scoped token only its tenant on every /v1/live answer', async () => {
    const time = new Date().toISOString();
    const tenantEvents = ['acme.example', 'globex.example'].flatMap((domain, index) => [
      { type: 'agent.status_changed', time, scope: { domain }, data: { agent: `t${index}-1`, status: 'available' } },
      { type: 'call.queued', time, scope: { domain }, data: { call_id: `t${index}-call`, queue: `${domain}-queue` } },
      { type: 'cdr.created', time, scope: { domain }, data: { call_id: `t${index}-cdr`, number: '+27215550000', direction: 'inbound', dialed_at: time, disposition: 'answered', agent: `t${index}-1` } },
    ]);
    expect((await postEvents(hub.url, tenantEvents)).status).toBe(202);
    await waitFor(async () => (await live(hub, '/v1/live/calls', ACME)).body.calls.length === 1, 20_000, 'acme call');

    const acmeAgents = (await live(hub, '/v1/live/agents', ACME)).body;
    expect(acmeAgents.agents.map((agent: { agent: string }) => agent.agent)).toEqual(['t0-1']);
    expect(acmeAgents.totals.total).toBe(1);
    const acmeQueues = (await live(hub, '/v1/live/queues', ACME)).body;
    expect(acmeQueues.queues.map((queue: { queue: string }) => queue.queue)).toEqual(['acme.example-queue']);
    expect(acmeQueues.totals).toMatchObject({ offered: 1, waiting: 1 });
    expect((await live(hub, '/v1/live/calls', ACME)).body.calls.map((call: { call_id: string }) => call.call_id)).toEqual(['t0-call']);
    expect((await live(hub, '/v1/live/cdrs', ACME)).body.cdrs.map((cdr: { data: { call_id: string } }) => cdr.data.call_id)).toEqual(['t0-cdr']);
    expect((await live(hub, '/v1/live/agents', GLOBEX)).body.agents.map((agent: { agent: string }) => agent.agent)).toEqual(['t1-1']);

    for (const path of ['/v1/live/agents', '/v1/live/queues', '/v1/live/calls', '/v1/live/cdrs']) {
      expect((await api(hub.url, 'GET', `${path}?scope=domain:globex.example`, undefined, ACME)).status).toBe(403);
    }
    // An unscoped token can narrow to a tenant itself.
    expect((await live(hub, '/v1/live/agents?scope=domain:globex.example')).body.agents.map((agent: { agent: string }) => agent.agent)).toEqual(['t1-1']);
    expect((await api(hub.url, 'GET', '/v1/live/agents?scope=planet:mars')).status).toBe(400);
  });
});

describe('live state: PBX queue membership and pages', () => {
  let redis: TestRedis;
  let hub: Hub;
  const live = async (path: string) => {
    let answer: Awaited<ReturnType<typeof api>> | undefined;
    await waitFor(async () => (answer = await api(hub.url, 'GET', path)).status !== 503, 20_000, `${path} to answer`);
    return answer as Awaited<ReturnType<typeof api>>;
  };
  const post = async (events: unknown[]) => expect((await postEvents(hub.url, events)).status).toBe(202);
  const queueAgents = async () => {
    const { body } = await live('/v1/live/queues');
    return Object.fromEntries(body.queues.map((queue: { queue: string; agents: Record<string, number> }) => [queue.queue, Object.fromEntries(Object.entries(queue.agents).filter(([, count]) => count > 0))]));
  };

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('takes an agent\'s queues from data.queues: exactly that set, queues created for agent-only traffic', async () => {
    await post([
      { type: 'agent.status_changed', data: { agent: '5001', status: 'available', queues: ['m-sales', 'm-support'] } },
      { type: 'agent.status_changed', data: { agent: '5002', status: 'busy', queues: ['m-support'] } },
      { type: 'agent.status_changed', data: { agent: '5003', status: 'on_break' } },
    ]);
    await waitFor(async () => Object.keys(await queueAgents()).length === 2, 20_000, 'the two queues');
    expect(await queueAgents()).toEqual({ 'm-sales': { available: 1, total: 1 }, 'm-support': { available: 1, busy: 1, total: 2 } });

    // Left m-sales: no longer counted under it.
    await post([{ type: 'agent.status_changed', data: { agent: '5001', status: 'not_ready', queues: ['m-support'] } }]);
    await waitFor(async () => (await queueAgents())['m-sales']?.total === undefined, 20_000, '5001 to leave m-sales');
    expect(await queueAgents()).toEqual({ 'm-sales': {}, 'm-support': { not_ready: 1, busy: 1, total: 2 } });

    // [] = left every queue; absent = unchanged.
    await post([
      { type: 'agent.status_changed', data: { agent: '5002', status: 'available', queues: [] } },
      { type: 'agent.status_changed', data: { agent: '5001', status: 'available' } },
    ]);
    await waitFor(async () => (await queueAgents())['m-support']?.total === 1, 20_000, '5002 to leave every queue');
    expect(await queueAgents()).toEqual({ 'm-sales': {}, 'm-support': { available: 1, total: 1 } });
    const { body } = await live('/v1/live/queues');
    expect(body.totals.agents).toMatchObject({ total: 3, available: 2, on_break: 1 });
  });

  it('pages every list with ?limit= and next_cursor, in natural order, totals over all', async () => {
    const agents = Array.from({ length: 23 }, (_, i) => ({ type: 'agent.status_changed', data: { agent: `p${i + 1}`, status: i % 2 ? 'busy' : 'available' } }));
    const calls = Array.from({ length: 7 }, (_, i) => ({ type: 'call.queued', time: new Date(Date.now() - 60_000 + i * 1000).toISOString(), data: { call_id: `pc-${i}`, queue: `pq-${i % 3}` } }));
    await post([...agents, ...calls]);
    await waitFor(async () => (await live('/v1/live/agents')).body.totals.total === 26, 20_000, 'the agents');
    const pages = async (path: string, list: string, limit: number) => {
      const seen: unknown[][] = [];
      let cursor: string | null = null;
      do {
        const { status, body } = await live(`${path}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(status).toBe(200);
        seen.push(body[list]);
        cursor = body.next_cursor;
      } while (cursor);
      return seen;
    };
    await waitFor(async () => (await live('/v1/live/calls')).body.calls.length === 7, 20_000, 'the calls');
    const agentPages = await pages('/v1/live/agents', 'agents', 10);
    const names = agentPages.flat().map((agent) => (agent as { agent: string }).agent).filter((name) => name.startsWith('p'));
    expect(agentPages.map((page) => page.length)).toEqual([10, 10, 6]);
    expect(names).toEqual(Array.from({ length: 23 }, (_, i) => `p${i + 1}`));
    const first = (await live('/v1/live/agents?limit=10')).body;
    expect(first.totals.total).toBe(26);
    expect(first.agents.map((agent: { agent: string }) => agent.agent)).toEqual(['5001', '5002', '5003', 'p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7']);

    const callPages = await pages('/v1/live/calls', 'calls', 3);
    expect(callPages.map((page) => page.map((call) => (call as { call_id: string }).call_id))).toEqual([['pc-0', 'pc-1', 'pc-2'], ['pc-3', 'pc-4', 'pc-5'], ['pc-6']]);
    const queuePages = await pages('/v1/live/queues', 'queues', 2);
    expect(queuePages.flat().map((queue) => (queue as { queue: string }).queue)).toEqual(['m-sales', 'm-support', 'pq-0', 'pq-1', 'pq-2']);
    expect((await live('/v1/live/queues?limit=2')).body.totals).toMatchObject({ waiting: 7, offered: 7 });

    expect((await api(hub.url, 'GET', '/v1/live/agents?cursor=bm90LWEtY3Vyc29y')).status).toBe(400);
    expect((await api(hub.url, 'GET', '/v1/live/agents?limit=5001')).status).toBe(400);
    expect((await api(hub.url, 'GET', '/v1/live/agents?limit=0')).status).toBe(400);
    // The default page holds everything here, so the answer is the whole list, as before pages.
    expect((await live('/v1/live/agents')).body).toMatchObject({ next_cursor: null, totals: { total: 26 } });
  });
});
