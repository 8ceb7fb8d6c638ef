import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/**
 * Hostile volume against the live state, sized for a 2-core CI machine (the full-size figures are
 * in `npm run bench -- abuse`): a 30k agents × 30k queues state must not stop the hub answering,
 * the daily reset must leave only today's entities, and the live.max* bounds must hold.
 */

/** The 1 s answer the hub owes /healthz and the intake whatever the live views cost (docs/live.md). */
const ANSWER_WITHIN_MS = 1000;

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function postAll(hub: Hub, events: unknown[]): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) expect((await postEvents(hub.url, events.slice(i, i + 1000))).status).toBe(202);
}

async function live(hub: Hub, path: string) {
  let answer: Awaited<ReturnType<typeof api>> | undefined;
  await waitFor(async () => (answer = await api(hub.url, 'GET', path)).status !== 503, 30_000, `${path} to answer`);
  return (answer as Awaited<ReturnType<typeof api>>).body;
}

/** Every item of a /v1/live list, page after page. */
async function everyPage(hub: Hub, part: string, limit: number): Promise<Record<string, unknown>[]> {
  const items: Record<string, unknown>[] = [];
  let cursor: string | null = null;
  do {
    const body = await live(hub, `/v1/live/${part}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    items.push(...(body[part] as Record<string, unknown>[]));
    cursor = body.next_cursor as string | null;
  } while (cursor);
  return items;
}

describe('abuse: 30k agents × 30k queues in the live state', () => {
  const N = 30_000;
  let redis: TestRedis;
  let hub: Hub;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { live: { maxAgents: N + 10, maxQueues: N + 10 } });
    // Agent i is a member of queues i and i+1: every queue has two agents.
    const events = Array.from({ length: N }, (_, i) => ({
      type: 'agent.status_changed',
      data: { agent: `a${i}`, status: i % 3 === 0 ? 'busy' : 'available', queues: [`q${i}`, `q${(i + 1) % N}`] },
    }));
    await postAll(hub, events);
    await waitFor(async () => (await live(hub, '/v1/live/agents?limit=1')).totals.total === N, 60_000, 'the 30k agents');
  }, 180_000);
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('answers /healthz and POST /v1/events within 1 s while the queues and agents views are computed', async () => {
    const probes = { healthz: [] as number[], intake: [] as number[] };
    let computing = true;
    const views = (async () => {
      const results = [];
      for (let round = 0; round < 2; round += 1) {
        results.push(
          ...(await Promise.all(
            ['/v1/live/queues', '/v1/live/agents', '/v1/live/queues?scope=domain:nobody.example', '/v1/live/agents?scope=domain:nobody.example'].map((path) =>
              timed(() => live(hub, `${path}${path.includes('?') ? '&' : '?'}limit=5000`)),
            ),
          )),
        );
      }
      return results;
    })().finally(() => {
      computing = false;
    });
    let n = 0;
    while (computing) {
      probes.healthz.push((await timed(() => fetch(`${hub.url}/healthz`).then((response) => expect(response.status).toBe(200)))).ms);
      const time = new Date().toISOString();
      const cdr = { call_id: `probe-${n++}`, number: '+27215550000', direction: 'inbound', dialed_at: time, disposition: 'answered' };
      const accepted = await timed(() => postEvents(hub.url, [{ type: 'cdr.created', time, data: cdr }]));
      expect(accepted.value.status).toBe(202);
      probes.intake.push(accepted.ms);
    }
    const answers = await views;
    expect(probes.healthz.length).toBeGreaterThan(0);
    expect(Math.max(...probes.healthz), `/healthz latencies ${probes.healthz.map(Math.round).join(', ')} ms`).toBeLessThan(ANSWER_WITHIN_MS);
    expect(Math.max(...probes.intake), `intake latencies ${probes.intake.map(Math.round).join(', ')} ms`).toBeLessThan(ANSWER_WITHIN_MS);

    type Answer = Awaited<ReturnType<typeof live>>;
    const [queues, agents, noQueues, noAgents] = answers.map((answer) => answer.value) as [Answer, Answer, Answer, Answer];
    expect(queues.queues).toHaveLength(5000);
    expect(queues.totals.agents).toMatchObject({ total: N, busy: N / 3, available: N - N / 3 });
    // Natural order: q0, q1, q2 … and every queue with its two agents.
    expect(queues.queues.slice(0, 3).map((queue: { queue: string }) => queue.queue)).toEqual(['q0', 'q1', 'q2']);
    for (const queue of queues.queues) expect(queue.agents.total).toBe(2);
    expect(queues.next_cursor).toEqual(expect.any(String));
    expect(agents.agents).toHaveLength(5000);
    expect(agents.totals).toMatchObject({ busy: N / 3 });
    expect([noQueues.queues, noAgents.agents]).toEqual([[], []]);
  }, 120_000);

  it('pages through all 30k queues, each once, each with its agents by status', async () => {
    const queues = await everyPage(hub, 'queues', 5000);
    expect(queues).toHaveLength(N);
    expect(new Set(queues.map((queue) => queue.queue)).size).toBe(N);
    // Agents 0, 3, 6 … are busy: queue i holds agents i-1 and i.
    const busyIn = (i: number) => Number((i - 1 + N) % N % 3 === 0) + Number(i % 3 === 0);
    for (const queue of queues) {
      const i = Number(String(queue.queue).slice(1));
      expect((queue.agents as Record<string, number>).busy, String(queue.queue)).toBe(busyIn(i));
    }
  }, 120_000);
});

/** HH:MM (UTC) of the next minute at least `leadMs` away, and that instant. */
function nextResetTime(leadMs: number): { resetTime: string; atMs: number } {
  const atMs = Math.ceil((Date.now() + leadMs) / 60_000) * 60_000;
  return { resetTime: new Date(atMs).toISOString().slice(11, 16), atMs };
}

describe('abuse: the daily reset leaves only today\'s entities', () => {
  let redis: TestRedis;
  let hub: Hub;
  const reset = nextResetTime(20_000);

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { live: { resetTime: reset.resetTime, timeZone: 'UTC' } });
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('evicts agents offline since before the reset, and queues and calls with nothing since', async () => {
    const before = new Date(reset.atMs - 10 * 60_000).toISOString();
    const yesterday = [
      // 200 agents logged off before the reset: evicted.
      ...Array.from({ length: 200 }, (_, i) => ({ type: 'agent.status_changed', time: before, data: { agent: `off${i}`, status: 'offline' } })),
      // 100 agents still logged in, who took yesterday's calls in 100 queues: kept, their queues are not.
      ...Array.from({ length: 100 }, (_, i) => [
        { type: 'agent.status_changed', time: before, data: { agent: `on${i}`, status: 'available' } },
        { type: 'call.connected', time: before, data: { call_id: `old${i}`, queue: `served${i}`, agent: `on${i}` } },
        { type: 'call.ended', time: before, data: { call_id: `old${i}`, queue: `served${i}`, agent: `on${i}` } },
      ]).flat(),
      // 50 agents the PBX lists in one queue: kept, and so is their queue.
      ...Array.from({ length: 50 }, (_, i) => ({ type: 'agent.status_changed', time: before, data: { agent: `listed${i}`, status: 'available', queues: ['listed-q'] } })),
      // 100 callers still waiting from before the reset (their end never came): evicted, with their queues.
      ...Array.from({ length: 100 }, (_, i) => ({ type: 'call.queued', time: before, data: { call_id: `stale${i}`, queue: `waiting${i % 10}` } })),
    ];
    await postAll(hub, yesterday);
    await waitFor(async () => (await live(hub, '/v1/live/agents?limit=1')).totals.total === 350, 30_000, 'yesterday\'s agents');
    expect((await live(hub, '/v1/live/queues?limit=1')).totals.waiting).toBe(100);
    expect(await everyPage(hub, 'queues', 1000)).toHaveLength(111);

    // Just before the reset, the checks made every 5 s since the start kept the day's memberships.
    await waitFor(() => Date.now() > reset.atMs - 3000, 120_000, 'just before the reset');
    const served = (await everyPage(hub, 'queues', 1000)).filter((queue) => String(queue.queue).startsWith('served'));
    expect(served.map((queue) => (queue.agents as { total: number }).total)).toEqual(Array(100).fill(1));

    // The reset passes, then today's traffic.
    await waitFor(() => Date.now() > reset.atMs + 1000, 120_000, 'the reset time');
    const now = new Date().toISOString();
    await postAll(hub, [
      { type: 'agent.status_changed', time: now, data: { agent: 'today1', status: 'available', queues: ['today-q'] } },
      { type: 'call.queued', time: now, data: { call_id: 'today-c', queue: 'today-q' } },
    ]);
    await waitFor(async () => (await live(hub, '/v1/live/agents?limit=1')).totals.total === 151, 30_000, 'the reset to evict the offline agents');
    const agents = await everyPage(hub, 'agents', 1000);
    expect(agents.filter((agent) => String(agent.agent).startsWith('off'))).toEqual([]);
    expect(agents.map((agent) => String(agent.agent).replace(/\d+$/, '')).sort()).toEqual([...Array(50).fill('listed'), ...Array(100).fill('on'), 'today']);
    const queues = await everyPage(hub, 'queues', 1000);
    expect(queues.map((queue) => [queue.queue, queue.offered, (queue.agents as { total: number }).total])).toEqual([
      ['listed-q', 0, 50],
      ['today-q', 1, 1],
    ]);
    expect((await everyPage(hub, 'calls', 1000)).map((call) => call.call_id)).toEqual(['today-c']);
  }, 180_000);
});

describe('abuse: live.maxAgents, maxQueues and maxCalls', () => {
  let redis: TestRedis;
  let hub: Hub;
  const warnings: { msg: string; kind?: string }[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    const config = parseConfig({
      dataDir: tempDir('switchboard-data-'),
      keyPrefix: 'sbtest',
      http: { port: 0 },
      redis: { url: redis.url },
      auth: { apiToken: TEST_TOKEN },
      live: { maxAgents: 1000, maxQueues: 500, maxCalls: 200 },
    });
    const log = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n').filter(Boolean)) warnings.push(JSON.parse(line));
        done();
      },
    });
    hub = await Hub.start(Object.freeze(config), { logger: pino({ level: 'warn' }, log) });
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('drops the least recently active beyond each bound, and counts it in /metrics', async () => {
    await postAll(hub, Array.from({ length: 1500 }, (_, i) => ({ type: 'agent.status_changed', data: { agent: `a${i}`, status: 'available' } })));
    // a500 is active again, then one more agent comes: a501 is now the least recently active.
    await postAll(hub, [
      { type: 'agent.status_changed', data: { agent: 'a500', status: 'busy' } },
      { type: 'agent.status_changed', data: { agent: 'a1500', status: 'available' } },
    ]);
    await postAll(hub, Array.from({ length: 600 }, (_, i) => ({ type: 'call.queued', data: { call_id: `c${i}`, queue: `q${i}` } })));
    await waitFor(async () => (await everyPage(hub, 'calls', 1000)).some((call) => call.call_id === 'c599'), 30_000, 'the last call');

    const agents = (await everyPage(hub, 'agents', 5000)).map((agent) => agent.agent);
    expect(agents).toHaveLength(1000);
    expect(agents).toEqual(['a500', ...Array.from({ length: 999 }, (_, i) => `a${i + 502}`)]);
    const queues = (await everyPage(hub, 'queues', 5000)).map((queue) => queue.queue);
    expect(queues).toEqual(Array.from({ length: 500 }, (_, i) => `q${i + 100}`));
    const calls = (await everyPage(hub, 'calls', 5000)).map((call) => call.call_id);
    expect([...calls].sort()).toEqual(Array.from({ length: 200 }, (_, i) => `c${i + 400}`).sort());

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_live_dropped_total\{kind="agent"\} 501\b/);
    expect(metrics).toMatch(/switchboard_live_dropped_total\{kind="queue"\} 100\b/);
    expect(metrics).toMatch(/switchboard_live_dropped_total\{kind="call"\} 400\b/);
    expect(metrics).toMatch(/switchboard_live_entities\{kind="agent"\} 1000\b/);
    expect(metrics).toMatch(/switchboard_live_entities\{kind="queue"\} 500\b/);
    expect(metrics).toMatch(/switchboard_live_entities\{kind="call"\} 200\b/);
    // Warned once per bound, however many were dropped.
    expect(warnings.filter((warning) => warning.msg.includes('reached')).map((warning) => [warning.kind, warning.msg.split(' ')[0]])).toEqual([
      ['agent', 'live.maxAgents'],
      ['call', 'live.maxCalls'],
      ['queue', 'live.maxQueues'],
    ]);
  }, 120_000);
});
