import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { sleep } from './helpers/wait.js';

const webhooks = (nodeId: string) => ({
  webhooks: { nodeId, slots: 8, leaseTtlMs: 900, allowPrivateTargets: true, batchLingerMs: 5, retryScheduleMs: [50, 100, 200, 400, 800], retryJitter: 0, pollIntervalMs: 50 },
});

describe('event subscriptions: slot leases and failover', () => {
  let redis: TestRedis;
  let hubA: Hub;
  let hubB: Hub;
  let receiver: Receiver;

  beforeAll(async () => {
    redis = await startRedis();
    hubA = await startHub(redis.url, { keyPrefix: 'sblease', ...webhooks('node-a') });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await hubB?.close();
    await hubA?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('one node holds every slot; a second node takes a share; when the owner stops, the other delivers everything in order', async () => {
    const client = await connectClient(redis.url);
    const owners = async () => {
      const tokens = await Promise.all(Array.from({ length: 8 }, (_, slot) => client.get(hubA.context.keys.webhookSlot(slot).lease)));
      return tokens.map((token) => token?.split(':')[0]);
    };
    await expect.poll(owners).toEqual(Array(8).fill('node-a'));

    hubB = await startHub(redis.url, { keyPrefix: 'sblease', ...webhooks('node-b') });
    await expect.poll(async () => (await owners()).filter((owner) => owner === 'node-b').length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    expect((await client.zRange(hubA.context.keys.nodes, 0, -1)).sort()).toEqual(['node-a', 'node-b']);

    // A subscription owned by node-a (the slot is derived from its random id).
    let sub: { id: string; 'current-active-server': string } | undefined;
    const made: string[] = [];
    while (!sub) {
      const response = await fetch(`${hubA.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'cdr', 'post-url': `${receiver.url}?n=${made.length}`, domain: 'lease.example' }),
      });
      const body = (await response.json()) as { id: string; 'current-active-server': string };
      made.push(body.id);
      if (body['current-active-server'] === 'node-a') sub = body;
    }
    await sleep(300);

    const cdr = (n: number) => ({
      type: 'cdr.created',
      scope: { domain: 'lease.example' },
      data: { call_id: `call-${n}`, number: '+331', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' },
    });
    const sent: string[] = [];
    for (let n = 0; n < 30; n += 1) {
      await postEvents(hubB.url, cdr(n));
      sent.push(`call-${n}`);
      if (n === 14) await hubA.close();
      await sleep(20);
    }

    const mine = () =>
      receiver.received
        .filter((post) => post.headers['x-correlation-id'] === sub?.id)
        .flatMap((post) => (JSON.parse(post.body) as { data: { call_id: string } }[]).map((object) => object.data.call_id));
    await receiver.waitFor(() => new Set(mine()).size >= 30, 20_000);
    // At least once, in order: first appearances follow the acceptance order.
    expect([...new Set(mine())]).toEqual(sent);
    const after = await fetch(`${hubB.url}/v1/subscriptions/${sub.id}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(((await after.json()) as { 'current-active-server': string })['current-active-server']).toBe('node-b');
    await client.quit();
  });

  it('a new owner resumes the retry schedule of the batch at the cursor instead of starting it again', async () => {
    const settings = { keyPrefix: 'sbresume', webhooks: { nodeId: 'resume-1', allowPrivateTargets: true, retryScheduleMs: [300, 300, 300], retryJitter: 0, throttleFloorMs: 0, batchLingerMs: 5, leaseTtlMs: 1500, pollIntervalMs: 50 } };
    let first = await startHub(redis.url, settings);
    const client = await connectClient(redis.url);
    try {
      const response = await fetch(`${first.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'campaign', 'post-url': `${receiver.url}?resume=1` }),
      });
      const sub = (await response.json()) as { id: string };
      const definition = JSON.parse((await client.hGet(first.context.keys.webhookSubscription(sub.id), 'def'))!) as { slot: number };
      const stateKey = first.context.keys.webhookSlot(definition.slot).state(sub.id);
      receiver.reply = (post) => (post.headers['x-correlation-id'] === sub.id ? { status: 500 } : { status: 200 });
      await sleep(300);
      await postEvents(first.url, { type: 'campaign.status_changed', data: { campaign: 'resume', status: 'started' } });
      await expect.poll(() => client.hGet(stateKey, 'attempts'), { timeout: 5000 }).toBe('2');
      await first.close();
      first = await startHub(redis.url, { ...settings, webhooks: { ...settings.webhooks, nodeId: 'resume-2' } });
      await expect.poll(() => client.xLen(first.context.keys.webhookSlot(definition.slot).failed(sub.id)), { timeout: 5000 }).toBe(1);
      // 1 + 3 retries in all, across both owners.
      expect(receiver.received.filter((post) => post.headers['x-correlation-id'] === sub.id)).toHaveLength(4);
      expect(await client.hGet(stateKey, 'attempts')).toBe('0');
    } finally {
      receiver.reply = () => ({ status: 200 });
      await first.close();
      await client.quit();
    }
  });
});
