import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { waitFor } from './helpers/wait.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { postEvents, startHub } from './helpers/hub.js';

type Reply = [string, [string, string[] | null][]][] | null;

describe('ack-aware retention of the integrators stream', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const stream = () => hub.context.keys.cdrStream;
  /** Readiness, with the integrators check's own warning (other components may warn too). */
  const ready = async () => {
    const body = (await (await fetch(`${hub.url}/readyz`)).json()) as { status: string; checks: { name: string; warning?: string }[] };
    return { status: body.status, warning: body.checks.find((check) => check.name === 'integrators')?.warning };
  };
  const post = async (from: number, count: number) =>
    expect((await postEvents(hub.url, Array.from({ length: count }, (_, i) => cdrEvent(from + i)))).status).toBe(202);
  const readAll = async (group: string) => {
    const reply = (await client.sendCommand(['XREADGROUP', 'GROUP', group, 'w1', 'COUNT', '1000', 'STREAMS', stream(), '>'])) as Reply;
    return (reply?.[0]?.[1] ?? []).map(([id]) => id);
  };

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      // replayRetentionMs 0: acknowledged entries go at once, so lengths below are exact.
      integrators: { maxLength: 100, alarmRatio: 0.5, trimIntervalMs: 30, sweepIntervalMs: 30, claimIdleMs: 60_000, replayRetentionMs: 0 },
    });
    client = await connectClient(redis.url);
    await api(hub.url, 'POST', '/v1/integrators', { name: 'fast' });
    await api(hub.url, 'POST', '/v1/integrators', { name: 'slow' });
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('keeps what the slowest group has not acknowledged and trims what every group has', async () => {
    await post(0, 40);
    const fast = await readAll('fast');
    expect(fast).toHaveLength(40);
    await client.sendCommand(['XACK', stream(), 'fast', ...fast]);
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(await client.xLen(stream())).toBe(40); // slow has read nothing yet

    const slow = await readAll('slow');
    await client.sendCommand(['XACK', stream(), 'slow', ...slow.slice(0, 30)]);
    await waitFor(async () => (await client.xLen(stream())) === 10, 5000, 'trim to the oldest pending entry');
    const first = (await client.xRange(stream(), '-', '+', { COUNT: 1 }))?.[0];
    expect(first?.id).toBe(slow[30]);
    expect((await ready()).warning).toBeUndefined();
  });

  it('alarms above alarmRatio × maxLength, then drops at the cap and counts the loss per group', async () => {
    await post(100, 50); // 60 entries not acknowledged by slow (nor fast): above 50
    await waitFor(async () => (await ready()).warning !== undefined, 5000, 'alarm');
    const { warning } = await ready();
    expect(warning).toMatch(/backlog 60 is above 50/);
    expect((await ready()).status).toBe('ready');
    expect(await (await fetch(`${hub.url}/metrics`)).text()).toMatch(/switchboard_integrators_stream_alarm 1/);

    await post(200, 60); // 120 entries: the 20 oldest go
    await waitFor(async () => (await client.xLen(stream())) === 100, 5000, 'hard cap');
    // The 20 oldest: 10 pending with slow (fast had acknowledged them) and 10 neither had read.
    const slow = (await api(hub.url, 'GET', '/v1/integrators/slow')).body.lag;
    const fast = (await api(hub.url, 'GET', '/v1/integrators/fast')).body.lag;
    expect(slow.lost).toBe(20);
    expect(fast.lost).toBe(10);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_integrator_lost\{integrator="slow"\} 20/);
    expect(metrics).toMatch(/switchboard_integrators_stream_length 100/);

    // Reading its history, slow finds the dropped pending entries without payload.
    const history = (await client.sendCommand(['XREADGROUP', 'GROUP', 'slow', 'w1', 'COUNT', '100', 'STREAMS', stream(), '0'])) as Reply;
    expect(history?.[0]?.[1].every(([, fields]) => fields === null)).toBe(true);

    // Once both catch up and acknowledge, the stream empties and the alarm clears.
    for (const group of ['fast', 'slow']) {
      const ids = await readAll(group);
      expect(ids).toHaveLength(100);
      await client.sendCommand(['XACK', stream(), group, ...ids]);
    }
    const pendingSlow = history?.[0]?.[1].map(([id]) => id) ?? [];
    await client.sendCommand(['XACK', stream(), 'slow', ...pendingSlow]);
    await waitFor(async () => (await client.xLen(stream())) === 0, 5000, 'empty stream');
    await waitFor(async () => (await ready()).warning === undefined, 5000, 'alarm cleared');
  });
});
