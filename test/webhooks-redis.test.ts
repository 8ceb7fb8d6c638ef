import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRedis, type TestRedis } from './helpers/redis.js';
import { sleep } from './helpers/wait.js';


describe('event subscriptions across a Redis restart', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      webhooks: { allowPrivateTargets: true, leaseTtlMs: 1500, batchLingerMs: 5, batchMaxEvents: 5, retryScheduleMs: [50, 100, 200, 400, 800, 1600], retryJitter: 0, pollIntervalMs: 100 },
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('delivers every event accepted before, during and after the restart, in acceptance order', async () => {
    const response = await fetch(`${hub.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'campaign', 'post-url': receiver.url }),
    });
    // Creation stores the subscription's cursor at the log's end: no wait for its worker.
    const sub = (await response.json()) as { id: string };

    const sent: string[] = [];
    const send = async (n: number) => {
      const accepted = await postEvents(hub.url, { type: 'campaign.status_changed', data: { campaign: 'c', status: 'started', ref: String(n) } });
      expect(accepted.status).toBe(202);
      sent.push(String(n));
    };
    for (let n = 0; n < 15; n += 1) await send(n);
    const restart = redis.restart({ downMs: 800 });
    for (let n = 15; n < 30; n += 1) {
      await send(n);
      await sleep(40);
    }
    await restart;
    for (let n = 30; n < 45; n += 1) await send(n);

    const refs = () =>
      receiver.received
        .filter((post) => post.headers['x-correlation-id'] === sub.id)
        .flatMap((post) => (JSON.parse(post.body) as { data: { ref: string } }[]).map((object) => object.data.ref));
    await receiver.waitFor(() => new Set(refs()).size >= 45, 30_000);
    // At least once; the first delivery of each event follows acceptance order.
    expect([...new Set(refs())]).toEqual(sent);
  });
});
