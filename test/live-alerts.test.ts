import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { eventLogKey } from '../src/redis/keys.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { openStream } from './helpers/sse.js';
import { waitFor } from './helpers/wait.js';

/*
 * Intervals and alerts over HTTP on a real hub and Redis: events posted to the intake, the
 * answers of /v1/live/intervals and /v1/live/queues|agents, and `live.alert` on /v1/stream.
 */
describe('live intervals and alerts through the hub', () => {
  let redis: TestRedis;
  let hub: Hub;
  const keyPrefix = 'sbalerts';

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, {
      keyPrefix,
      live: {
        serviceLevelThresholdMs: 20_000,
        shortAbandonMs: 0,
        queues: { billing: { alerts: { serviceLevelBelowPct: 80 } } },
        alerts: { notReadyOverS: 1 },
      },
    });
    await waitFor(async () => (await fetch(`${hub.url}/v1/live/queues`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).status === 200, 20_000, 'the live state');
  }, 60_000);
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  const get = async <T>(path: string) => {
    const response = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    return { status: response.status, body: (await response.json()) as T };
  };
  type Named = { queue: string; intervals: { start: string; end: string; answered: number }[] };

  it('refuses a size it does not know, naming the sizes it takes', async () => {
    const { status, body } = await get<{ error: unknown }>('/v1/live/intervals?size=20m');
    expect(status).toBe(400);
    expect(body.error).toMatchObject({
      code: 'VALIDATION_FAILED',
      message: 'size must be one of: 15m, 30m, 60m',
      details: [{ path: '/size', message: 'must be one of: 15m, 30m, 60m (got "20m")' }],
    });
  });

  it('turns a service level under its threshold into a queue alert and one live.alert on the stream within 1 s', async () => {
    const stream = await openStream(hub.url, { query: { types: 'live.alert' } });
    try {
      const now = Date.now();
      const queuedAt = new Date(now - 60_000).toISOString();
      // Answered after 40 s: 0 % within 20 s, under the queue's 80 %.
      const accepted = await postEvents(hub.url, [
        { type: 'call.queued', time: queuedAt, data: { call_id: 'b-1', queue: 'billing' } },
        { type: 'call.connected', time: new Date(now - 20_000).toISOString(), data: { call_id: 'b-1', queue: 'billing', agent: 'eve' } },
      ]);
      expect(accepted.status).toBe(202);
      const postedAt = Date.now();
      await stream.waitFor(() => stream.events().length >= 1, 10_000, 'the live.alert');
      const arrivedMs = Date.now() - postedAt;
      const alert = JSON.parse(stream.events()[0]!.data) as { type: string; time: string; data: Record<string, unknown> };
      expect(alert).toMatchObject({
        type: 'live.alert',
        data: { code: 'service_level_below', queue: 'billing', since: new Date(now - 20_000).toISOString(), value: 0, threshold: 80 },
      });
      expect(arrivedMs).toBeLessThan(1000);
      const { body } = await get<{ queues: Named[] }>('/v1/live/queues');
      const billing = body.queues.find((queue) => queue.queue === 'billing');
      expect(billing).toMatchObject({ service_level_pct: 0, asa_s: 40, alerts: [{ code: 'service_level_below', since: new Date(now - 20_000).toISOString() }] });
      // The interval of the answer holds it.
      const intervals = (await get<{ queues: Named[] }>('/v1/live/intervals?size=60m')).body;
      const hours = intervals.queues.find((queue) => queue.queue === 'billing')?.intervals ?? [];
      const answeredMs = now - 20_000;
      const holding = hours.filter((interval) => Date.parse(interval.start) <= answeredMs && answeredMs < Date.parse(interval.end));
      expect(holding).toHaveLength(1);
      expect(holding[0]!.answered).toBe(1);
      expect(hours.reduce((sum, interval) => sum + interval.answered, 0)).toBe(1);
    } finally {
      stream.close();
    }
  });

  it('alerts on an agent not ready too long, and the intake refuses a live.alert from outside', async () => {
    const stream = await openStream(hub.url, { query: { types: 'live.alert' } });
    try {
      expect((await postEvents(hub.url, { type: 'agent.status_changed', data: { agent: 'fay', status: 'not_ready', reason: 'meeting' } })).status).toBe(202);
      await stream.waitFor(() => stream.events().some((message) => message.data.includes('"fay"')), 10_000, "fay's alert");
      const agents = (await get<{ agents: { agent: string }[] }>('/v1/live/agents')).body.agents;
      expect(agents.find((agent) => agent.agent === 'fay')).toMatchObject({ activity: 'not_ready', reason: 'meeting', alerts: [{ code: 'not_ready_over' }] });
      const forged = await postEvents(hub.url, { type: 'live.alert', data: { code: 'not_ready_over', since: new Date().toISOString(), agent: 'x', value: 1, threshold: 1 } });
      // Hub-emitted, as source.* and subscription.* are: the intake refuses it.
      expect(forged.status).toBe(403);
      // One alert per episode in the log: billing, still under, was not alerted again meanwhile.
      const client = await connectClient(redis.url);
      try {
        const entries = await client.xRange(eventLogKey(keyPrefix), '-', '+');
        const alerts = (entries ?? []).map((entry) => JSON.parse(entry.message.event!) as { type: string; data: { agent?: string; queue?: string } }).filter((event) => event.type === 'live.alert');
        expect(alerts.map((event) => event.data.queue ?? event.data.agent)).toEqual(['billing', 'fay']);
      } finally {
        await client.quit();
      }
    } finally {
      stream.close();
    }
  });
});
