import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const webhooks = (nodeId: string, stableAfterMs: number) => ({
  webhooks: { nodeId, stableAfterMs, leaseTtlMs: 4000, allowPrivateTargets: true, batchLingerMs: 5, retryScheduleMs: [50, 100, 200, 400, 800], retryJitter: 0, pollIntervalMs: 50 },
});

/** node-b's stable period: long enough that a slow start on a loaded machine leaves a window to check. */
const STABLE_B_MS = 8000;

const cdr = (n: number) => ({
  id: `lease-cdr-${n}`,
  type: 'cdr.created',
  scope: { domain: 'lease.example' },
  data: { call_id: `call-${n}`, number: '+331', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' },
});

async function readyz(hub: Hub) {
  const response = await fetch(`${hub.url}/readyz`);
  const body = (await response.json()) as { warnings?: string[]; checks: { name: string; eligible?: boolean; eligibleInMs?: number; subscriptions?: number }[] };
  return { ...body, webhooks: body.checks.find((check) => check.name === 'webhooks') };
}

describe('event subscriptions: node stability, rebalance and planned handover', () => {
  let redis: TestRedis;
  let hubA: Hub;
  let hubB: Hub | undefined;
  let receiver: Receiver;
  const ids: string[] = [];
  const sent: string[] = [];
  let producing = true;
  /** Hubs the producer posts to, in turn. */
  let targets: string[] = [];
  let producer: Promise<void> = Promise.resolve();

  /** Event ids each subscription received (2xx-answered or not), in arrival order. */
  const receivedBy = (id: string) =>
    receiver.received.filter((post) => post.headers['x-correlation-id'] === id).flatMap((post) => (JSON.parse(post.body) as { id: string }[]).map((object) => object.id));
  const owners = async (hub: Hub) => Promise.all(ids.map(async (id) => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'] as string));
  const ownerChanges = async () => {
    const client = await connectClient(redis.url);
    const entries = await client.xRange(hubA.context.keys.eventLog, '-', '+');
    await client.quit();
    return (entries ?? []).filter((entry) => entry.message.type === 'subscription.owner_changed').map((entry) => (JSON.parse(entry.message.event ?? '{}') as { data: Record<string, string> }).data);
  };

  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    hubA = await startHub(redis.url, { keyPrefix: 'sblease', ...webhooks('node-a', 300) });
    for (let n = 0; n < 4; n += 1) {
      const created = await api(hubA.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': `${receiver.url}?n=${n}`, domain: 'lease.example' });
      expect(created.status).toBe(200);
      ids.push(created.body.id as string);
    }
    await waitFor(async () => (await owners(hubA)).every((owner) => owner === 'node-a'), 20_000, 'node-a to own every subscription');
    // A steady stream of CDRs for the whole file.
    targets = [hubA.url];
    producer = (async () => {
      for (let n = 0; producing; n += 1) {
        const answer = await postEvents(targets[n % targets.length] as string, cdr(n)).catch(() => undefined);
        if (answer?.status === 202) sent.push(`lease-cdr-${n}`);
        await new Promise((resolve) => setTimeout(resolve, 15));
      }
    })();
  });
  afterAll(async () => {
    producing = false;
    await producer;
    await hubB?.close();
    await hubA?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('a node younger than stableAfterMs takes nothing while an eligible node exists, says so on /readyz, then takes half', async () => {
    const startedAt = Date.now();
    hubB = await startHub(redis.url, { keyPrefix: 'sblease', ...webhooks('node-b', STABLE_B_MS) });
    targets = [hubA.url, hubB.url];
    // Until it is stable, node-b says so (with the time left) and owns nothing. The standing it
    // reports may be one heartbeat old, so only the first part of the window is checked.
    let checks = 0;
    for (;;) {
      const young = await readyz(hubB);
      if ((young.webhooks?.eligibleInMs ?? 0) < 2000) break;
      expect(young.webhooks?.eligible).toBe(false);
      expect(young.warnings?.some((warning) => /node node-b is not yet eligible to take subscriptions \(stable in \d+ s\)/.test(warning))).toBe(true);
      expect(young.webhooks?.subscriptions).toBe(0);
      expect(await owners(hubA)).toEqual(Array(4).fill('node-a'));
      checks += 1;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(checks).toBeGreaterThan(0);
    await waitFor(async () => (await owners(hubA)).filter((owner) => owner === 'node-b').length === 2, 20_000, 'node-b to take two subscriptions');
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(STABLE_B_MS);
    expect((await readyz(hubB)).webhooks?.eligible).toBe(true);
    const moves = await ownerChanges();
    expect(moves).toHaveLength(2);
    for (const move of moves) expect(move).toMatchObject({ from: 'node-a', to: 'node-b', reason: 'rebalance' });
    // Balanced: stays 2/2 (no further moves).
    expect((await owners(hubB)).sort()).toEqual(['node-a', 'node-a', 'node-b', 'node-b']);
  });

  it('a planned shutdown drains and hands every subscription over: nothing lost, nothing posted twice', async () => {
    const before = sent.length;
    await waitFor(() => sent.length >= before + 20, 20_000, 'more events');
    const b = hubB as Hub;
    targets = [b.url];
    await hubA.close();
    await waitFor(async () => (await owners(b)).every((owner) => owner === 'node-b'), 20_000, 'node-b to own every subscription');
    const moves = (await ownerChanges()).filter((move) => move.reason === 'shutdown');
    expect(moves).toHaveLength(2);
    for (const move of moves) expect(move).toMatchObject({ from: 'node-a', to: 'node-b' });
    // Keep producing through node-b alone for a moment, then stop and check every subscription.
    hubA = b;
    const after = sent.length;
    await waitFor(() => sent.length >= after + 20, 20_000, 'events through node-b');
    producing = false;
    await producer;
    const expected = sent.filter((id) => id.startsWith('lease-cdr-'));
    for (const id of ids) {
      await receiver.waitFor(() => new Set(receivedBy(id)).size >= expected.length, 20_000);
      const got = receivedBy(id);
      // Planned moves only (rebalance, shutdown): in order, every event exactly once.
      expect(got).toEqual(expected);
    }
    const metrics = await (await fetch(`${b.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_webhook_owner_changes_total\{reason="shutdown"\} 2/);
    expect(metrics).toMatch(/switchboard_webhook_owner_changes_total\{reason="rebalance"\} 2/);
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
      await waitFor(async () => (await api(first.url, 'GET', `/v1/subscriptions/${sub.id}`)).body['current-active-server'] === 'resume-1', 20_000, 'resume-1 to own it');
      await postEvents(first.url, { type: 'campaign.status_changed', data: { campaign: 'resume', status: 'started' } });
      await expect.poll(() => client.hGet(stateKey, 'attempts'), { timeout: 5000 }).toBe('2');
      await first.close();
      first = await startHub(redis.url, { ...settings, webhooks: { ...settings.webhooks, nodeId: 'resume-2' } });
      await expect.poll(() => client.xLen(first.context.keys.webhookSlot(definition.slot).failed(sub.id)), { timeout: 5000 }).toBe(1);
      // 1 + 3 retries in all, across both owners, all with the same webhook-id.
      const posts = receiver.received.filter((post) => post.headers['x-correlation-id'] === sub.id);
      expect(posts).toHaveLength(4);
      expect(new Set(posts.map((post) => post.headers['webhook-id'])).size).toBe(1);
      expect(await client.hGet(stateKey, 'attempts')).toBe('0');
    } finally {
      receiver.reply = () => ({ status: 200 });
      await first.close();
      await client.quit();
    }
  });
});
