import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeCdrs, integratorKeys } from '../src/index.js';
import { connectClient, startRedis, type TestRedis } from '../../../test/helpers/redis.js';
import { waitFor } from '../../../test/helpers/wait.js';

/** Only Redis: the stream, group and registration are written the way the hub writes them. */
describe('consumeCdrs on a real redis-server', () => {
  let redis: TestRedis;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const keys = integratorKeys('poison');

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await redis?.close();
  });

  it('hands a CDR that always fails to the handler exactly maxDeliveries times, with three workers claiming from each other', async () => {
    const total = 200;
    const ids: string[] = [];
    for (let n = 0; n < total; n += 1) {
      const event = { id: `bad-${n}`, type: 'cdr.created', time: '2026-12-02T10:00:00.000Z', data: { call_id: `call-${n}` } };
      ids.push(event.id);
      await client.xAdd(keys.cdrStream, '*', { id: event.id, type: event.type, event: JSON.stringify(event) });
    }
    await client.sendCommand(['XGROUP', 'CREATE', keys.cdrStream, 'strict', '0']);
    await client.hSet(keys.registry, 'strict', JSON.stringify({ types: ['cdr.created'] }));

    const calls = new Map<string, number>();
    const controller = new AbortController();
    // Claims every millisecond of entries idle for 5: the claims race each other and the limit.
    // (Run as two steps, a dead-letter scan and then XAUTOCLAIM, this failed two runs in three.)
    const workers = ['w1', 'w2', 'w3'].map((consumer) =>
      consumeCdrs({
        url: redis.url,
        keyPrefix: 'poison',
        integrator: 'strict',
        consumer,
        blockMs: 5,
        claimIdleMs: 5,
        claimIntervalMs: 1,
        maxDeliveries: 3,
        signal: controller.signal,
        handler: (cdr) => {
          calls.set(cdr.id, (calls.get(cdr.id) ?? 0) + 1);
          throw new Error('poison');
        },
      }),
    );
    // Every delivery's handler call made (a worker may hold a delivered CDR while it is dead-lettered).
    await waitFor(
      async () => (await client.xLen(keys.deadLetters('strict'))) === total && ids.every((id) => (calls.get(id) ?? 0) >= 3),
      30_000,
      `${total} dead letters, each after three handler calls`,
    );
    controller.abort();
    await Promise.all(workers);

    expect([...calls.keys()].sort()).toEqual([...ids].sort());
    expect([...calls.entries()].filter(([, count]) => count !== 3)).toEqual([]);
    const dead = (await client.xRange(keys.deadLetters('strict'), '-', '+')) ?? [];
    expect(dead.map((entry) => entry.message.id).sort()).toEqual([...ids].sort());
    expect(new Set(dead.map((entry) => entry.message.deliveries))).toEqual(new Set(['3']));
    expect(await client.hGet(keys.counters, 'strict:dead')).toBe(String(total));
    const [pending] = (await client.sendCommand(['XPENDING', keys.cdrStream, 'strict'])) as [number];
    expect(pending).toBe(0);
  });
});
