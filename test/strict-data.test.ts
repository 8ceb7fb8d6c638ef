import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

describe('strict event data, and data.custom for integrators\' own fields', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { webhooks: { allowPrivateTargets: true, batchLingerMs: 20, leaseTtlMs: 3000, pollIntervalMs: 100 } });
    receiver = await startReceiver();
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('rejects a typo inside data with 400 naming the field, and stores nothing', async () => {
    const before = await client.xLen(hub.context.keys.eventLog);
    const answer = await postEvents(hub.url, [
      { type: 'agent.status_changed', data: { agent: '1002', status: 'available' } },
      { type: 'agent.status_changed', data: { agnet: '1002', agent: '1002', status: 'available' } },
      { type: 'cdr.created', data: { call_id: 'c1', number: '1', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered', custom: 'not an object' } },
    ]);
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({
      error: {
        code: 'VALIDATION_FAILED',
        details: [
          { index: 1, path: '/data/agnet', message: 'is not a known field (agent.status_changed has no such field; put your own fields under data.custom)' },
          { index: 2, path: '/data/custom', message: 'expected a JSON object' },
        ],
      },
    });
    expect((answer.body.error as { details: unknown[] }).details).toHaveLength(2);
    expect(await client.xLen(hub.context.keys.eventLog)).toBe(before);
  });

  it('refuses unknown fields inside nested objects too (campaign.dial_preview callees)', async () => {
    const answer = await postEvents(hub.url, { type: 'campaign.dial_preview', data: { campaign: 'c', callees: [{ number: '1', contact_rfe: 'x' }] } });
    expect(answer.status).toBe(400);
    expect(answer.body).toMatchObject({ error: { details: [{ index: 0, path: '/data/callees/0/contact_rfe', message: 'is not a known field (campaign.dial_preview has no such field; put your own fields under data.custom)' }] } });
  });

  it('carries data.custom to webhooks and the integrators\' stream, never to the Enigma or Newfies bytes', async () => {
    const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'agent', 'post-url': receiver.url });
    expect(created.status).toBe(200);
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'crm-custom', types: ['cdr.created', 'call.offered'] })).status).toBe(201);

    const published: { channel: string; message: string }[] = [];
    const subscriber = await connectClient(redis.url);
    await subscriber.pSubscribe(['enigma:notifications:*', 'callcenter_events'], (message, channel) => published.push({ channel, message }));
    const custom = { crm_lead: 'L-77', tags: ['vip'], nested: { score: 9 } };
    const answer = await postEvents(hub.url, [
      { id: 'custom-1', type: 'agent.status_changed', data: { agent: '7001', status: 'available', custom } },
      { id: 'custom-2', type: 'call.offered', data: { call_id: 'cc-1', agent: '7001', custom } },
      { id: 'custom-3', type: 'cdr.created', data: { call_id: 'cc-1', number: '+27215550100', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered', agent: '7001', custom } },
    ]);
    expect(answer.status).toBe(202);

    // Enigma: agent status, and the CDR on the shared list; Newfies: status and offering.
    await waitFor(() => published.length >= 3, 20_000, 'Enigma and Newfies messages');
    const cdrMessage = await client.lIndex(hub.context.keys.enigmaCdrList, 0);
    for (const bytes of [...published.map((entry) => entry.message), cdrMessage ?? '']) {
      expect(bytes).not.toContain('custom');
      expect(bytes).not.toContain('L-77');
    }
    expect(JSON.parse(cdrMessage ?? '{}')).toMatchObject({ type: 'cdr', payload: { call_ref: 'cc-1' } });

    const stream = (await client.xRange(hub.context.keys.cdrStream, '-', '+')) ?? [];
    const streamed = stream.map((entry) => JSON.parse(entry.message.event ?? '{}') as { id: string; data: { custom?: unknown } });
    expect(streamed.filter((event) => event.id.startsWith('custom-')).map((event) => [event.id, event.data.custom])).toEqual([
      ['custom-2', custom],
      ['custom-3', custom],
    ]);

    await waitFor(() => receiver.delivered().filter((object) => String(object.id).startsWith('custom-')).length >= 2, 20_000, 'webhook deliveries');
    const delivered = receiver.delivered().filter((object) => String(object.id).startsWith('custom-'));
    expect(delivered.map((object) => [object.id, (object.data as { custom?: unknown }).custom])).toEqual([
      ['custom-1', custom],
      ['custom-2', custom],
    ]);
    await subscriber.quit();
  });
});
