import { execFileSync } from 'node:child_process';
import { consumeCdrs, type Cdr } from '@switchboard/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/**
 * Entries the hub did not write, put into the event log and the integrators' stream by hand with
 * redis-cli: every reader skips them (src/log/reader.ts), counts each once in
 * switchboard_log_entries_unreadable_total{reader} and carries on with the next entry.
 */
describe('an unreadable entry in the event log', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const relayedList = 'desk:cdrs';

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      webhooks: { allowPrivateTargets: true, batchLingerMs: 5, batchMaxEvents: 5, retryJitter: 0, pollIntervalMs: 100 },
    });
    receiver = await startReceiver();
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.close();
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  const redisCli = (...args: string[]) => execFileSync('redis-cli', ['-u', redis.url, ...args], { encoding: 'utf8' }).trim();
  const unreadableCounts = async (): Promise<Record<string, number>> => {
    const text = await (await fetch(`${hub.url}/metrics`)).text();
    return Object.fromEntries([...text.matchAll(/^switchboard_log_entries_unreadable_total\{reader="([^"]+)"\} (\d+)$/gm)].map((match) => [match[1], Number(match[2])]));
  };
  const relayedCalls = async () => (await client.lRange(relayedList, 0, -1)).reverse().map((message) => (JSON.parse(message) as { payload: { call_ref: string } }).payload.call_ref);
  const postedIds = () => receiver.delivered().map((object) => object.id);

  it('is skipped, counted and logged once by the list relay, the webhook dispatcher and the integrators, which all move past it', async () => {
    const { keys } = hub.context;
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'desk', listKey: relayedList })).status).toBe(201);
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'reader' })).status).toBe(201);
    expect((await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiver.url })).status).toBe(200);
    await waitFor(async () => (await client.exists(keys.relayCursor(relayedList))) === 1, 10_000, 'the relay to create its cursor');

    // No event fields at all, and the fields with a body that is no JSON.
    redisCli('XADD', keys.eventLog, '*', 'foreign', 'x');
    redisCli('XADD', keys.eventLog, '*', 'id', 'bad-log', 'type', 'cdr.created', 'event', '{not json');
    redisCli('XADD', keys.cdrStream, '*', 'id', 'bad-stream', 'type', 'cdr.created', 'event', '{not json');
    expect((await postEvents(hub.url, cdrEvent(1))).status).toBe(202);

    await waitFor(async () => (await relayedCalls()).length >= 1 && postedIds().length >= 1, 15_000, 'the relay and the webhook to take the next event');
    expect(await relayedCalls()).toEqual(['call-1']);
    expect(postedIds()).toEqual(['cdr-1']);
    const replay = async () => (await api(hub.url, 'GET', '/v1/integrators/reader/replay?since=0-0')).body;
    expect((await replay()).items.map((item: { id: string }) => item.id)).toEqual(['cdr-1']);

    const handled: Cdr[] = [];
    const errors: unknown[] = [];
    const stop = new AbortController();
    const consuming = consumeCdrs({
      url: redis.url,
      integrator: 'reader',
      consumer: 'worker-1',
      keyPrefix: hub.context.config.keyPrefix,
      blockMs: 100,
      signal: stop.signal,
      handler: (cdr) => void handled.push(cdr),
      onError: (error) => void errors.push(error),
    });

    // Each reader moves on: the next event arrives everywhere, and nothing is counted twice.
    expect((await postEvents(hub.url, cdrEvent(2))).status).toBe(202);
    const liveCdrs = async () => (await api(hub.url, 'GET', '/v1/live/cdrs')).body.cdrs.map((cdr: { id: string }) => cdr.id);
    await waitFor(
      async () => (await relayedCalls()).length >= 2 && postedIds().length >= 2 && handled.length >= 2 && (await liveCdrs()).length >= 2,
      15_000,
      'every reader to take the event after',
    );
    stop.abort();
    await consuming;
    expect(await relayedCalls()).toEqual(['call-1', 'call-2']);
    expect(postedIds()).toEqual(['cdr-1', 'cdr-2']);
    expect(handled.map((cdr) => cdr.id)).toEqual(['cdr-1', 'cdr-2']);
    expect(errors.map(String)).toEqual([expect.stringMatching(/stream entry \d+-\d+ holds unreadable JSON/)]);
    expect((await replay()).items.map((item: { id: string }) => item.id)).toEqual(['cdr-1', 'cdr-2']);
    // The live state (projection and /v1/stream share its feed) read past both unreadable entries as well.
    expect(await liveCdrs()).toEqual(['cdr-2', 'cdr-1']);
    expect(await unreadableCounts()).toEqual({ 'list-relay': 2, webhooks: 2, integrators: 1, live: 2 });
  });
});
