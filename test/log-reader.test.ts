import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { comparePositions, LOG_START, LogReader, positionBefore } from '../src/log/reader.js';
import { createRedisClient, type RedisClient } from '../src/redis/client.js';
import { postEvents, startHub } from './helpers/hub.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const status = (n: number) => ({ id: `ev-${n}`, type: 'agent.status_changed', data: { agent: String(1000 + n), status: 'available' } });

describe('event-log reader and codec', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: RedisClient;
  let blocking: RedisClient;
  let log: LogReader;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url);
    client = createRedisClient({ url: redis.url });
    blocking = createRedisClient({ url: redis.url });
    await Promise.all([client.connect(), blocking.connect()]);
    log = new LogReader(client, hub.context.keys.eventLog);
  });
  afterAll(async () => {
    await Promise.all([client?.close(), blocking?.close()]);
    await hub?.close();
    await redis?.close();
  });

  it('reads the head, ranges after a position or from a time, decoding each event', async () => {
    expect(await log.head()).toBe(LOG_START);
    expect(await log.oldest()).toBeUndefined();
    expect((await postEvents(hub.url, [1, 2, 3, 4, 5].map(status))).status).toBe(202);

    const all = await log.after(LOG_START, 100);
    expect(all.map((entry) => entry.id)).toEqual(['ev-1', 'ev-2', 'ev-3', 'ev-4', 'ev-5']);
    expect(all.map((entry) => entry.type)).toEqual(Array(5).fill('agent.status_changed'));
    expect(all[2]?.event).toMatchObject({ id: 'ev-3', type: 'agent.status_changed', data: { agent: '1003', status: 'available' } });
    expect(JSON.parse(all[2]?.json ?? '')).toEqual(all[2]?.event);
    expect(await log.head()).toBe(all[4]?.position);
    expect(await log.oldest()).toBe(all[0]?.position);

    const afterSecond = await log.after(all[1]?.position ?? '', 2);
    expect(afterSecond.map((entry) => entry.id)).toEqual(['ev-3', 'ev-4']);
    for (let i = 1; i < all.length; i += 1) expect(comparePositions(all[i - 1]?.position ?? '', all[i]?.position ?? '')).toBeLessThan(0);

    const since = await log.since(Number((all[0]?.position ?? '').split('-')[0]), 100);
    expect(since.map((entry) => entry.id)).toContain('ev-1');
    expect(await log.since(Date.now() + 60_000, 100)).toEqual([]);
    expect(comparePositions(positionBefore(5), '4-99')).toBeGreaterThan(0);
    expect(comparePositions(positionBefore(5), '5-0')).toBeLessThan(0);
  });

  it('follows the log as it grows, in order, from a position', async () => {
    const live = new LogReader(blocking, hub.context.keys.eventLog);
    const start = await log.head();
    const stop = new AbortController();
    const seen: string[] = [];
    const following = (async () => {
      for await (const entries of live.follow(start, { signal: stop.signal, blockMs: 200 })) {
        seen.push(...entries.map((entry) => entry.id));
        if (seen.length >= 30) stop.abort();
      }
    })();
    for (let batch = 0; batch < 3; batch += 1) {
      expect((await postEvents(hub.url, Array.from({ length: 10 }, (_, i) => status(100 + batch * 10 + i)))).status).toBe(202);
    }
    await following;
    expect(seen).toEqual(Array.from({ length: 30 }, (_, i) => `ev-${100 + i}`));
  });

  it('decodes an entry written by something else without failing the reader', async () => {
    const before = await log.head();
    await client.xAdd(hub.context.keys.eventLog, '*', { foreign: 'x' });
    await client.xAdd(hub.context.keys.eventLog, '*', { id: 'bad', type: 'agent.status_changed', event: '{not json' });
    const [foreign, bad] = await log.after(before, 10);
    expect(foreign?.type).toBe('');
    expect(() => bad?.event).toThrow(/unreadable JSON/);
  });
});
