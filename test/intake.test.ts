import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { waitFor } from './helpers/wait.js';

const status = (agent: string, extra: Record<string, unknown> = {}) => ({
  type: 'agent.status_changed',
  data: { agent, status: 'available', ...extra },
});

describe('intake POST /v1/events', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      http: { maxBatchEvents: 5, bodyLimitBytes: 4096 },
      auth: { tokens: [{ name: 'reader', token: 'reader-token-0123456789', roles: ['read'] }] },
    });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  const logLength = () => client.xLen(hub.context.keys.eventLog);

  it('accepts one event with 202, generated id and time, and appends it to the log', async () => {
    const before = await logLength();
    const response = await postEvents(hub.url, status('1002'));
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ accepted: 1, duplicates: 0 });
    const [id] = response.body.ids as string[];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(await logLength()).toBe(before + 1);
    const [entry] = (await client.xRevRange(hub.context.keys.eventLog, '+', '-', { COUNT: 1 })) ?? [];
    const event = JSON.parse(entry!.message.event!);
    expect(event).toMatchObject({ id, type: 'agent.status_changed', data: { agent: '1002', status: 'available' } });
    expect(Date.parse(event.time)).not.toBeNaN();
  });

  it('rejects a batch whole, listing every problem with its index and path', async () => {
    const before = await logLength();
    const response = await postEvents(hub.url, [
      status('1001'),
      { type: 'agent.status_changed', data: { agent: 1002, status: 'napping' } },
      { type: 'cdr.created', data: { call_id: 'c1' } },
      { type: 'no.such_type', data: {} },
    ]);
    expect(response.status).toBe(400);
    const error = response.body.error as { code: string; details: { index: number; path: string }[] };
    expect(error.code).toBe('VALIDATION_FAILED');
    const problems = error.details.map((detail) => `${detail.index}${detail.path}`);
    expect(problems).toEqual(
      expect.arrayContaining(['1/data/agent', '1/data/status', '2/data/number', '2/data/direction', '2/data/dialed_at', '2/data/disposition', '3/type']),
    );
    expect(problems.some((problem) => problem.startsWith('0'))).toBe(false);
    expect(await logLength()).toBe(before);
  });

  it('answers malformed JSON, wrong content type, oversize bodies and oversize batches precisely', async () => {
    const before = await logLength();
    expect((await postEvents(hub.url, '{"type": ')).body.error).toMatchObject({ code: 'MALFORMED_JSON' });
    const text = await fetch(`${hub.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${TEST_TOKEN}` },
      body: 'hello',
    });
    expect(text.status).toBe(415);
    const big = await postEvents(hub.url, status('1002', { reason: 'x'.repeat(5000) }));
    expect(big.status).toBe(413);
    expect(big.body.error).toMatchObject({ code: 'BODY_TOO_LARGE' });
    const many = await postEvents(hub.url, Array.from({ length: 6 }, (_, i) => status(String(i))));
    expect(many.status).toBe(413);
    expect(many.body.error).toMatchObject({ code: 'BATCH_TOO_LARGE' });
    expect((await postEvents(hub.url, [])).status).toBe(400);
    expect((await postEvents(hub.url, '"just a string"')).status).toBe(400);
    expect(await logLength()).toBe(before);
  });

  it('requires a bearer token with the ingest role', async () => {
    const missing = await fetch(`${hub.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(status('1002')),
    });
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('AUTH_REQUIRED');
    const wrong = await postEvents(hub.url, status('1002'), 'not-a-valid-token-at-all');
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatchObject({ code: 'AUTH_INVALID' });
    const reader = await postEvents(hub.url, status('1002'), 'reader-token-0123456789');
    expect(reader.status).toBe(403);
    expect(reader.body.error).toMatchObject({ code: 'FORBIDDEN' });
  });

  it('accepts a re-submitted id as a duplicate and does not deliver it again', async () => {
    const subscriber = await connectClient(redis.url);
    const received: string[] = [];
    await subscriber.subscribe('enigma:notifications:agents:7001', (message) => received.push(message));
    const event = { id: 'dedup-test-1', ...status('7001') };
    const first = await postEvents(hub.url, event);
    const before = await logLength();
    const second = await postEvents(hub.url, [event, { ...event }]);
    expect(first.body).toMatchObject({ accepted: 1, duplicates: 0, ids: ['dedup-test-1'] });
    expect(second.status).toBe(202);
    expect(second.body).toMatchObject({ accepted: 2, duplicates: 2, ids: ['dedup-test-1', 'dedup-test-1'] });
    expect(await logLength()).toBe(before);
    // A later event on the same channel as a fence: once it is here, a second copy would be too.
    await postEvents(hub.url, { id: 'dedup-test-fence', ...status('7001', { ref: 'fence' }) });
    await waitFor(() => received.length >= 2, 20_000, 'the fence event');
    expect(received.map((message) => JSON.parse(message).payload.ref)).toEqual([null, 'fence']);
    await subscriber.quit();
  });

  it('serves the JSON Schemas of every event type', async () => {
    const response = await fetch(`${hub.url}/v1/schemas`);
    const body = (await response.json()) as { types: Record<string, { required?: string[] }> };
    expect(Object.keys(body.types)).toEqual(
      expect.arrayContaining(['agent.status_changed', 'call.offered', 'call.connected', 'cdr.created', 'campaign.status_changed', 'campaign.dial_preview']),
    );
    expect(body.types['cdr.created']?.required).toEqual(['call_id', 'number', 'direction', 'dialed_at', 'disposition']);
  });

  it('reports readiness, liveness, metrics and an OpenAPI document', async () => {
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${hub.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready', checks: expect.arrayContaining([{ name: 'spool', ok: true, depth: 0 }]) });
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_events_accepted_total\{type="agent.status_changed"\} \d+/);
    expect(metrics).toMatch(/switchboard_spool_depth 0/);
    const openapi = (await (await fetch(`${hub.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toContain('/v1/events');
    expect((await fetch(`${hub.url}/docs/`)).status).toBe(200);
  });
});
