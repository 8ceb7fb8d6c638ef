import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EventType } from '../src/events/catalogue.js';
import type { Hub } from '../src/hub.js';
import type { HubEventDraft } from '../src/log/hub-events.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** A valid source.gap's data. */
const gap = (source: string) => ({ source, kind: 'asterisk', reason: 'disconnected', disconnected_ms: 1500 });

describe('hub-made events: one door (src/log/hub-events.ts)', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  const log = async () =>
    ((await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? []).map((entry) => ({
      id: entry.message.id!,
      type: entry.message.type,
      event: JSON.parse(entry.message.event!) as Record<string, unknown>,
    }));

  it('refuses an event the catalogue refuses, naming each problem, and appends nothing', async () => {
    const before = await client.xLen(hub.context.keys.eventLog);
    await expect(hub.context.hubEvents.emit('source.gap', { ...gap('pbx-1'), reason: 'bored', colour: 'red' })).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      message: expect.stringMatching(/^hub event source\.gap refused by the catalogue: /),
      details: expect.arrayContaining([
        { path: '/data/reason', message: expect.any(String) },
        { path: '/data/colour', message: expect.stringContaining('source.gap has no such field') },
      ]),
    });
    await expect(hub.context.hubEvents.emit('source.gapp' as EventType, gap('pbx-1'))).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      details: [{ path: '/type', message: 'unknown event type "source.gapp" (did you mean "source.gap"?)' }],
    });
    expect(await client.xLen(hub.context.keys.eventLog)).toBe(before);
  });

  it('stamps a UUID v7, the time and the source, and keeps the scope, in the envelope order the log stores', async () => {
    const before = Date.now();
    const outcome = await hub.context.hubEvents.emit('source.gap', gap('pbx-eu'), { source: 'pbx-eu', scope: { reseller: 'r1', domain: 'd1.example' } });
    expect(outcome).toEqual({ duplicates: 0, spooled: false });
    const [entry] = (await client.xRevRange(hub.context.keys.eventLog, '+', '-', { COUNT: 1 })) ?? [];
    const json = entry!.message.event!;
    const event = JSON.parse(json) as { id: string; time: string };
    expect(entry!.message.id).toBe(event.id);
    expect(event.id).toMatch(UUID_V7);
    expect(Date.parse(event.time)).toBeGreaterThanOrEqual(before - 1);
    expect(Date.parse(event.time)).toBeLessThanOrEqual(Date.now());
    expect(json).toBe(
      JSON.stringify({ id: event.id, type: 'source.gap', time: event.time, source: 'pbx-eu', scope: { reseller: 'r1', domain: 'd1.example' }, data: gap('pbx-eu') }),
    );
  });

  it('deduplicates by id within the window, as intake does', async () => {
    const first = await hub.context.hubEvents.emit('source.gap', gap('pbx-dedup'), { id: 'gap-dedup-1', source: 'pbx-dedup' });
    const second = await hub.context.hubEvents.emit('source.gap', gap('pbx-dedup'), { id: 'gap-dedup-1', source: 'pbx-dedup' });
    expect([first.duplicates, second.duplicates]).toEqual([0, 1]);
    expect((await log()).filter((entry) => entry.id === 'gap-dedup-1')).toHaveLength(1);
  });

  it('makeAll keeps the accepted events in order, reports each refused one, and append writes them as one batch', async () => {
    const drafts: HubEventDraft[] = [
      { id: 'batch-1', type: 'source.gap', data: gap('pbx-b'), source: 'pbx-b' },
      { id: 'batch-2', type: 'source.gap', data: { ...gap('pbx-b'), kind: 'sip' }, source: 'pbx-b' },
      { id: 'batch-3', type: 'source.resynced', data: { source: 'pbx-b', kind: 'asterisk', reason: 'connected', agents: 2, queues: 1, corrected: 0 }, source: 'pbx-b' },
    ];
    const refused: { id: string | undefined; paths: string[] }[] = [];
    const made = hub.context.hubEvents.makeAll(drafts, (draft, problems) => refused.push({ id: draft.id, paths: problems.map((problem) => problem.path) }));
    expect(made.map((event) => event.id)).toEqual(['batch-1', 'batch-3']);
    expect(refused).toEqual([{ id: 'batch-2', paths: ['/data/kind'] }]);
    await hub.context.hubEvents.append(made);
    expect((await log()).filter((entry) => entry.id.startsWith('batch-')).map((entry) => `${entry.id} ${entry.type}`)).toEqual(['batch-1 source.gap', 'batch-3 source.resynced']);
  });

  it('fans out to the integrators as intake events do, in log order', async () => {
    const registered = await api(hub.url, 'POST', '/v1/integrators', { name: 'ops', types: ['source.gap', 'cdr.created'] });
    expect(registered.status).toBe(201);
    const stream = registered.body.stream as string;
    expect((await postEvents(hub.url, cdrEvent(1))).status).toBe(202);
    await hub.context.hubEvents.emit('source.gap', gap('pbx-fan'), { id: 'gap-fan-1', source: 'pbx-fan' });
    expect((await postEvents(hub.url, cdrEvent(2))).status).toBe(202);
    // A refused event reaches no integrator either.
    await expect(hub.context.hubEvents.emit('source.gap', { ...gap('pbx-fan'), kind: 'sip' }, { id: 'gap-fan-2' })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const delivered = ((await client.xRange(stream, '-', '+')) ?? []).map((entry) => `${entry.message.id} ${entry.message.type}`);
    expect(delivered).toEqual(['cdr-1 cdr.created', 'gap-fan-1 source.gap', 'cdr-2 cdr.created']);
    const inLog = (await log()).filter((entry) => ['cdr-1', 'gap-fan-1', 'cdr-2'].includes(entry.id)).map((entry) => `${entry.id} ${entry.type}`);
    expect(inLog).toEqual(delivered);
  });

  it('refuses integrators types that never reach them (cti.*), and unknown ones with a did-you-mean; registers nothing', async () => {
    const cti = await api(hub.url, 'POST', '/v1/integrators', { name: 'cti-reader', types: ['cdr.created', 'cti.data_stored'] });
    expect(cti.status).toBe(400);
    expect(cti.body.error).toEqual({
      code: 'VALIDATION_FAILED',
      message: 'event types that never reach integrators: cti.data_stored (the CTI cache appends cti.* to the event log itself, past the fan-out: docs/event-log.md)',
      details: [{ path: '/types/1', message: 'cti.data_stored never reaches integrators: the CTI cache appends it to the event log itself, past the fan-out' }],
    });
    const typo = await api(hub.url, 'POST', '/v1/integrators', { name: 'typo-reader', types: ['cdr.creatd', 'cti.data_fetched'] });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toBe(
      'unknown event types: cdr.creatd (did you mean "cdr.created"?); event types that never reach integrators: cti.data_fetched (the CTI cache appends cti.* to the event log itself, past the fan-out: docs/event-log.md)',
    );
    expect(typo.body.error.details.map((detail: { path: string }) => detail.path)).toEqual(['/types/0', '/types/1']);
    expect(typo.body.error.details[0].message).toBe('not in the catalogue (GET /v1/schemas) (did you mean "cdr.created"?)');
    expect((await api(hub.url, 'GET', '/v1/integrators/cti-reader')).status).toBe(404);
    expect((await api(hub.url, 'GET', '/v1/integrators/typo-reader')).status).toBe(404);
  });
});

describe('cti.* events: made by the same door, written by the CTI scripts with the store', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const authorization = `Basic ${Buffer.from('username:password').toString('base64')}`;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { cti: { users: [{ username: 'username', password: 'password' }], pools: { seed: ['5551234568'] } } });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('keeps the bytes the log held before (envelope, then pool, dnis, ani, size_bytes[, deleted]), even for an ANI that spells the fields', async () => {
    // An ANI made of the very text the stand-ins are found by: escaped in the JSON, it never matches.
    const ani = 'x","dnis":"0","size_bytes":0,\\';
    const created = await fetch(`${hub.url}/cticache/DNIS-ANI`, {
      method: 'POST',
      headers: { authorization, 'content-type': 'application/json' },
      body: JSON.stringify({ value: 'abc', ani }),
    });
    expect(created.status).toBe(201);
    const fetched = await fetch(`${hub.url}/cticache/DNIS-ANI/5551234568:${encodeURIComponent(ani)}`, { method: 'DELETE', headers: { authorization } });
    expect(fetched.status).toBe(200);

    const entries = (await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? [];
    expect(entries.map((entry) => entry.message.type)).toEqual(['cti.data_stored', 'cti.data_fetched']);
    const [stored, taken] = entries.map((entry) => ({ id: entry.message.id!, json: entry.message.event!, time: (JSON.parse(entry.message.event!) as { time: string }).time }));
    const head = (event: { id: string; time: string }, type: string) => `{"id":"${event.id}","type":"${type}","time":"${event.time}","source":"switchboard-cti","data":`;
    expect(stored!.json).toBe(`${head(stored!, 'cti.data_stored')}{"pool":"seed","dnis":"5551234568","ani":${JSON.stringify(ani)},"size_bytes":5}}`);
    expect(taken!.json).toBe(`${head(taken!, 'cti.data_fetched')}{"pool":"seed","dnis":"5551234568","ani":${JSON.stringify(ani)},"size_bytes":5,"deleted":true}}`);
    expect([stored!.id, taken!.id]).toEqual([expect.stringMatching(UUID_V7), expect.stringMatching(UUID_V7)]);
  });

  it('answers a fetch with an ANI longer than a store takes as a miss (404), recording nothing', async () => {
    const before = await client.xLen(hub.context.keys.eventLog);
    const tooLong = 'anonymous'.padEnd(65, ' ');
    for (const method of ['GET', 'DELETE']) {
      const answer = await fetch(`${hub.url}/cticache/DNIS-ANI/5551234568:${encodeURIComponent(tooLong)}`, { method, headers: { authorization } });
      expect(answer.status).toBe(404);
      expect(((await answer.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
    }
    expect(await client.xLen(hub.context.keys.eventLog)).toBe(before);
  });
});
