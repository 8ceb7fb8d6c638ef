import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { sleep } from './helpers/wait.js';


const campaign = (name: string, n: number) => ({ type: 'campaign.status_changed', scope: { domain: name }, data: { campaign: name, status: 'started', ref: String(n) } });

/** Creates a campaign subscription for one domain (`as` tells two apart) and waits until this node owns it. */
async function subscribe(hub: Hub, receiver: Receiver, domain: string, as = 'd') {
  const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'campaign', 'post-url': `${receiver.url}?${as}=${domain}`, domain });
  expect(created.status).toBe(200);
  const id = created.body.id as string;
  await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'], { timeout: 20_000 }).not.toBe('');
  // No wait for the worker: creation stored its cursor at the log's end, so every event accepted
  // from here on is its to deliver, whenever it starts.
  return { id, get: async () => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body };
}

const postsTo = (receiver: Receiver, id: string) => receiver.received.filter((post) => post.headers['x-correlation-id'] === id);
const refsIn = (posts: { body: string }[]) => posts.flatMap((post) => (JSON.parse(post.body) as { data: { ref: string } }[]).map((object) => object.data.ref));

async function logEvents(redisUrl: string, keyPrefixLog: string, type: string) {
  const client = await connectClient(redisUrl);
  const entries = await client.xRange(keyPrefixLog, '-', '+');
  await client.quit();
  return (entries ?? []).filter((entry) => entry.message.type === type).map((entry) => JSON.parse(entry.message.event!) as { id: string; data: Record<string, unknown> });
}

describe('event subscriptions: retries, ordering, failed deliveries, replay', () => {
  let redis: TestRedis;
  let hub: Hub;
  let patientHub: Hub;
  let receiver: Receiver;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      webhooks: {
        allowPrivateTargets: true,
        retryScheduleMs: [100, 200, 300],
        retryJitter: 0,
        throttleFloorMs: 0,
        batchLingerMs: 20,
        batchMaxEvents: 10,
        errorAfterFailures: 2,
        cleanIntervalMs: 0,
        disableAfterExhaustedBatches: 2,
        leaseTtlMs: 10_000,
        pollIntervalMs: 100,
      },
    });
    // A second hub (own key prefix) whose retry window outlasts a receiver outage.
    patientHub = await startHub(redis.url, {
      keyPrefix: 'sbpatient',
      webhooks: { allowPrivateTargets: true, retryScheduleMs: [100, 200, 400, 800, 800, 800, 800, 800], retryJitter: 0.2, batchLingerMs: 10, batchMaxEvents: 7, leaseTtlMs: 10_000, pollIntervalMs: 100 },
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await patientHub?.close();
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('retries 500s on the schedule with a stable webhook-id, counts posts and errors, error → active', async () => {
    const sub = await subscribe(hub, receiver, 'retry.example');
    let calls = 0;
    receiver.reply = (post) => (post.headers['x-correlation-id'] === sub.id && ++calls <= 3 ? { status: 500 } : { status: 200 });
    await postEvents(hub.url, campaign('retry.example', 1));
    await receiver.waitFor(() => postsTo(receiver, sub.id).length >= 4);
    const posts = postsTo(receiver, sub.id);
    expect(new Set(posts.map((post) => post.headers['webhook-id'])).size).toBe(1);
    const gaps = posts.slice(1).map((post, index) => post.at - posts[index]!.at);
    expect(gaps[0]).toBeGreaterThanOrEqual(90);
    expect(gaps[1]).toBeGreaterThanOrEqual(190);
    expect(gaps[2]).toBeGreaterThanOrEqual(290);
    await expect.poll(sub.get, { timeout: 20_000 }).toMatchObject({ status: 'active', 'posts-count': 4, 'error-count': 3 });
    const errors = await logEvents(redis.url, hub.context.keys.eventLog, 'subscription.error');
    expect(errors.some((event) => event.data.subscription_id === sub.id)).toBe(true);
    const recovered = await logEvents(redis.url, hub.context.keys.eventLog, 'subscription.recovered');
    expect(recovered.some((event) => event.data.subscription_id === sub.id)).toBe(true);
    receiver.reply = () => ({ status: 200 });
  });

  it('honours Retry-After on 429', async () => {
    const sub = await subscribe(hub, receiver, 'throttle.example');
    let calls = 0;
    receiver.reply = (post) => (post.headers['x-correlation-id'] === sub.id && ++calls === 1 ? { status: 429, headers: { 'retry-after': '1' } } : { status: 200 });
    await postEvents(hub.url, campaign('throttle.example', 1));
    await receiver.waitFor(() => postsTo(receiver, sub.id).length >= 2);
    const [first, second] = postsTo(receiver, sub.id);
    expect(second!.at - first!.at).toBeGreaterThanOrEqual(950);
    receiver.reply = () => ({ status: 200 });
  });

  it('disables the subscription on 410 Gone, with a subscription.disabled event, and resumes when re-enabled', async () => {
    const sub = await subscribe(hub, receiver, 'gone.example');
    let gone = true;
    receiver.reply = (post) => (post.headers['x-correlation-id'] === sub.id && gone ? { status: 410 } : { status: 200 });
    await postEvents(hub.url, campaign('gone.example', 1));
    await expect.poll(sub.get, { timeout: 20_000 }).toMatchObject({ status: 'disabled', 'posts-count': 1, 'error-count': 1 });
    // A second subscription to the same events is the fence: once it has event 2, the dispatcher
    // has offered event 2 to the disabled one too.
    const fence = await subscribe(hub, receiver, 'gone.example', 'fence');
    await postEvents(hub.url, campaign('gone.example', 2));
    await receiver.waitFor(() => refsIn(postsTo(receiver, fence.id)).includes('2'));
    expect(postsTo(receiver, sub.id)).toHaveLength(1);
    const disabled = await logEvents(redis.url, hub.context.keys.eventLog, 'subscription.disabled');
    const disabledEvent = disabled.find((event) => event.data.subscription_id === sub.id);
    expect(disabledEvent?.data).toMatchObject({ status: 'disabled', reason: expect.stringContaining('410') });
    // Made through the hub's door for its own events (src/log/hub-events.ts): a UUID v7, as intake gives.
    expect(disabledEvent?.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    // Nothing was dropped while disabled: re-enabling resumes from the cursor.
    gone = false;
    expect((await api(hub.url, 'PUT', `/v1/subscriptions/${sub.id}`, { status: 'active' })).status).toBe(202);
    await receiver.waitFor(() => refsIn(postsTo(receiver, sub.id).slice(1)).length >= 2);
    expect(refsIn(postsTo(receiver, sub.id).slice(1))).toEqual(['1', '2']);
    receiver.reply = () => ({ status: 200 });
  });

  it('moves a batch that exhausts its retries to failed deliveries (status error, event emitted), then redrives it', async () => {
    const sub = await subscribe(hub, receiver, 'dead.example');
    let failing = true;
    receiver.reply = (post) => (post.headers['x-correlation-id'] === sub.id && failing ? { status: 503 } : { status: 200 });
    await postEvents(hub.url, [campaign('dead.example', 1), campaign('dead.example', 2)]);
    await expect.poll(async () => (await sub.get())['failed-deliveries'], { timeout: 5000 }).toBe(1);
    const state = await sub.get();
    expect(state).toMatchObject({ status: 'error', 'posts-count': 4, 'error-count': 4 });
    const failed = await api(hub.url, 'GET', `/v1/subscriptions/${sub.id}/failed`);
    const failedWebhookId = (failed.body as unknown as { 'webhook-id': string }[])[0]?.['webhook-id'];
    expect(failed.body).toMatchObject([{ events: 2, reason: expect.stringContaining('4 attempts') }]);
    const errors = await logEvents(redis.url, hub.context.keys.eventLog, 'subscription.error');
    expect(errors.find((event) => event.data.subscription_id === sub.id && event.data.failed_events === 2)).toBeDefined();

    // Later events still flow (the cursor moved past the failed batch).
    failing = false;
    await postEvents(hub.url, campaign('dead.example', 3));
    await receiver.waitFor(() => refsIn(postsTo(receiver, sub.id).filter((post) => post.headers['webhook-id'] !== failedWebhookId)).includes('3'));

    const redrive = await api(hub.url, 'POST', `/v1/subscriptions/${sub.id}/redrive`);
    expect(redrive).toMatchObject({ status: 202, body: { batches: 1 } });
    await expect.poll(async () => (await sub.get())['failed-deliveries'], { timeout: 5000 }).toBe(0);
    const okRefs = receiver
      .delivered()
      .filter((object) => (object.scope as { domain?: string })?.domain === 'dead.example')
      .map((object) => (object.data as { ref: string }).ref);
    expect(okRefs).toEqual(['3', '1', '2']);
  });

  it('delivers every event, in order, to a receiver that was down for a while', async () => {
    const sub = await subscribe(patientHub, receiver, 'outage.example');
    await receiver.stop();
    const refs: string[] = [];
    for (let n = 0; n < 40; n += 1) {
      refs.push(String(n));
      await postEvents(patientHub.url, campaign('outage.example', n));
      if (n % 10 === 9) await sleep(150); // a dialler's pace, not a synchronisation
    }
    // Down for a while: long enough for three failed attempts, well inside the retry window.
    await expect.poll(async () => (await api(patientHub.url, 'GET', `/v1/subscriptions/${sub.id}`)).body['error-count'], { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await receiver.start();
    await receiver.waitFor(() => receiver.delivered().filter((object) => object.model === 'campaign' && (object.scope as { domain?: string }).domain === 'outage.example').length >= 40, 20_000);
    const delivered = receiver.delivered().filter((object) => (object.scope as { domain?: string }).domain === 'outage.example');
    expect(delivered.map((object) => (object.data as { ref: string }).ref)).toEqual(refs);
    const seqs = delivered.map((object) => object.seq as string);
    expect([...seqs].sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]) || Number(a.split('-')[1]) - Number(b.split('-')[1]))).toEqual(seqs);
    expect((await api(patientHub.url, 'GET', `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ 'failed-deliveries': 0 });
  });

  it('replays every matching event since a time, in order, then continues live', async () => {
    const sub = await subscribe(hub, receiver, 'replay.example');
    await postEvents(hub.url, [campaign('replay.example', 1), campaign('replay.example', 2)]);
    await sleep(50);
    const since = new Date().toISOString();
    await sleep(50);
    await postEvents(hub.url, [campaign('replay.example', 3), campaign('replay.example', 4)]);
    await receiver.waitFor(() => refsIn(postsTo(receiver, sub.id)).length >= 4);
    expect(refsIn(postsTo(receiver, sub.id))).toEqual(['1', '2', '3', '4']);
    const firstIds = new Set(postsTo(receiver, sub.id).map((post) => post.headers['webhook-id']));

    expect((await api(hub.url, 'POST', `/v1/subscriptions/${sub.id}/replay`, { since })).status).toBe(202);
    await receiver.waitFor(() => refsIn(postsTo(receiver, sub.id)).length >= 6);
    await postEvents(hub.url, campaign('replay.example', 5));
    await receiver.waitFor(() => refsIn(postsTo(receiver, sub.id)).length >= 7);
    expect(refsIn(postsTo(receiver, sub.id))).toEqual(['1', '2', '3', '4', '3', '4', '5']);
    const replayPost = postsTo(receiver, sub.id).find((post) => !firstIds.has(post.headers['webhook-id']));
    expect(replayPost).toBeDefined();
    expect((await api(hub.url, 'POST', `/v1/subscriptions/${sub.id}/replay`, { since: '2999-01-01T00:00:00Z' })).status).toBe(400);
  });
});
