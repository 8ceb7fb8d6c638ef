import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerIntegratorCommands } from '../src/cli/integrators.js';
import { consumeCdrs, type Cdr } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { waitFor } from './helpers/wait.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';

describe('integrators API, legacy lists, replay, dead letters', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const keys = () => hub.context.keys;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      auth: { tokens: [{ name: 'reader', token: 'reader-token-0123456789', roles: ['read'] }] },
      integrators: { sweepIntervalMs: 50, trimIntervalMs: 50, claimIdleMs: 100, maxDeliveries: 3 },
    });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('registers an integrator and names the keys it reads', async () => {
    const created = await api(hub.url, 'POST', '/v1/integrators', { name: 'crm-a' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'crm-a',
      types: ['cdr.created'],
      legacyList: false,
      stream: keys().cdrStream,
      group: 'crm-a',
      deadLetter: keys().integratorDeadLetters('crm-a'),
    });
    expect(created.body.list).toBeUndefined();
    expect(keys().cdrStream).toBe('sbtest:{log}:cdr');

    const legacy = await api(hub.url, 'POST', '/v1/integrators', { name: 'billing', legacyList: true });
    expect(legacy.body).toMatchObject({ name: 'billing', legacyList: true, list: 'sbtest:{log}:list:billing' });
    expect(legacy.body.stream).toBeUndefined();

    const listed = await api(hub.url, 'GET', '/v1/integrators', undefined, 'reader-token-0123456789');
    expect(listed.status).toBe(200);
    expect(listed.body.integrators.map((one: { name: string }) => one.name)).toEqual(['billing', 'crm-a']);
    const one = await api(hub.url, 'GET', '/v1/integrators/crm-a');
    expect(one.body.lag).toEqual({ pending: 0, oldestPendingAgeMs: null, undelivered: 0, deadLetters: 0, lost: 0, listLength: null });
  });

  it('applies a registration made on one hub node to the next append on another, at once', async () => {
    const other = await startHub(redis.url);
    try {
      await api(other.url, 'POST', '/v1/integrators', { name: 'node-b', legacyList: true });
      await postEvents(hub.url, cdrEvent(900)); // appended by the first node right after
      const [message] = await client.lRange(keys().integratorList('node-b'), 0, -1);
      expect(JSON.parse(message!).payload.call_ref).toBe('call-900');
      expect((await api(hub.url, 'DELETE', '/v1/integrators/node-b')).status).toBe(204);
    } finally {
      await other.close();
    }
    const openapi = (await (await fetch(`${hub.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/v1/integrators', '/v1/integrators/{name}', '/v1/integrators/{name}/replay']));
  });

  it('answers validation, duplicate, unknown and role errors precisely', async () => {
    const duplicate = await api(hub.url, 'POST', '/v1/integrators', { name: 'crm-a' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body.error.code).toBe('CONFLICT');
    for (const name of ['', 'has space', 'brace{x}', 'colon:x', '-leading', 'x'.repeat(65)]) {
      const bad = await api(hub.url, 'POST', '/v1/integrators', { name });
      expect(bad.status, name).toBe(400);
      expect(bad.body.error.code).toBe('VALIDATION_FAILED');
    }
    const badType = await api(hub.url, 'POST', '/v1/integrators', { name: 'x1', types: ['cdr.created', 'no.such'] });
    expect(badType.status).toBe(400);
    expect(badType.body.error.details).toEqual([{ path: '/types/1', message: expect.any(String) }]);
    const neither = await api(hub.url, 'POST', '/v1/integrators', { name: 'x2', stream: false });
    expect(neither.status).toBe(400);
    const unknownKey = await api(hub.url, 'POST', '/v1/integrators', { name: 'x3', colour: 'red' });
    expect(unknownKey.status).toBe(400);
    expect((await api(hub.url, 'GET', '/v1/integrators/nobody')).status).toBe(404);
    expect((await api(hub.url, 'DELETE', '/v1/integrators/nobody')).status).toBe(404);
    expect((await api(hub.url, 'GET', '/v1/integrators/nobody/replay?since=2026-01-01T00:00:00Z')).status).toBe(404);
    const badSince = await api(hub.url, 'GET', '/v1/integrators/crm-a/replay?since=yesterday');
    expect(badSince.status).toBe(400);
    expect(badSince.body.error.details[0].path).toBe('/since');
    const reader = await api(hub.url, 'POST', '/v1/integrators', { name: 'x4' }, 'reader-token-0123456789');
    expect(reader.status).toBe(403);
    expect((await api(hub.url, 'GET', '/v1/integrators', undefined, 'nope-nope-nope-nope')).status).toBe(401);
    expect((await api(hub.url, 'GET', '/v1/integrators')).body.integrators).toHaveLength(2);
  });

  it('feeds the legacy Enigma list and each legacy integrator list, FIFO and complete', async () => {
    await client.del([keys().enigmaCdrList, keys().integratorList('billing')]);
    const events = Array.from({ length: 300 }, (_, i) => cdrEvent(1000 + i));
    for (let i = 0; i < events.length; i += 100) expect((await postEvents(hub.url, events.slice(i, i + 100))).status).toBe(202);
    // One more event of another type: lists of CDR integrators must not see it.
    await postEvents(hub.url, { type: 'agent.status_changed', data: { agent: '1002', status: 'available' } });

    for (const list of [keys().enigmaCdrList, keys().integratorList('billing')]) {
      const popped: string[] = [];
      for (;;) {
        const reply = await client.brPop(list, 0.1);
        if (!reply) break;
        popped.push(reply.element);
      }
      const refs = popped.map((message) => JSON.parse(message) as { type: string; payload: { call_ref: string } });
      expect(refs.every((message) => message.type === 'cdr')).toBe(true);
      expect(refs.map((message) => message.payload.call_ref)).toEqual(events.map((event) => event.data.call_id));
    }
    const billing = await api(hub.url, 'GET', '/v1/integrators/billing');
    expect(billing.body.lag.listLength).toBe(0);
  });

  it('replays exactly the CDRs accepted after a time, paged, without touching the live group', async () => {
    const before = Array.from({ length: 20 }, (_, i) => cdrEvent(2000 + i));
    await postEvents(hub.url, before);
    await new Promise((resolve) => setTimeout(resolve, 20));
    const since = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    const after = Array.from({ length: 25 }, (_, i) => cdrEvent(3000 + i));
    await postEvents(hub.url, after);

    const groupBefore = await client.sendCommand(['XPENDING', keys().cdrStream, 'crm-a']);
    const ids: string[] = [];
    let cursor: string | null = since;
    let pages = 0;
    while (cursor) {
      const page = await api(hub.url, 'GET', `/v1/integrators/crm-a/replay?since=${encodeURIComponent(cursor)}&limit=10`, undefined, 'reader-token-0123456789');
      expect(page.status).toBe(200);
      ids.push(...page.body.items.map((item: { id: string }) => item.id));
      cursor = page.body.next;
      pages += 1;
    }
    expect(ids).toEqual(after.map((event) => event.id));
    expect(pages).toBe(3);
    expect(await client.sendCommand(['XPENDING', keys().cdrStream, 'crm-a'])).toEqual(groupBefore);

    // A stream id is exclusive: replay after the 10th CDR gives the other 15.
    const first = await api(hub.url, 'GET', `/v1/integrators/crm-a/replay?since=${encodeURIComponent(since)}&limit=10`);
    const tail = await api(hub.url, 'GET', `/v1/integrators/crm-a/replay?since=${first.body.next}&limit=100`);
    expect(tail.body.items.map((item: { id: string }) => item.id)).toEqual(after.slice(10).map((event) => event.id));
    expect(tail.body.next).toBeNull();
  });

  it('moves a poison CDR to the dead-letter stream after N deliveries, counts it and delivers the rest', async () => {
    await api(hub.url, 'POST', '/v1/integrators', { name: 'quality' });
    const attempts = new Map<string, number>();
    const done: string[] = [];
    const controller = new AbortController();
    const worker = consumeCdrs({
      url: redis.url,
      keyPrefix: 'sbtest',
      integrator: 'quality',
      consumer: 'q1',
      blockMs: 50,
      claimIdleMs: 100,
      maxDeliveries: 3,
      signal: controller.signal,
      handler: (cdr: Cdr) => {
        attempts.set(cdr.id, (attempts.get(cdr.id) ?? 0) + 1);
        if (cdr.id === 'cdr-4002') throw new Error('poison');
        done.push(cdr.id);
      },
    });
    await postEvents(hub.url, Array.from({ length: 5 }, (_, i) => cdrEvent(4000 + i)));
    await waitFor(async () => (await client.xLen(keys().integratorDeadLetters('quality'))) === 1, 10_000, 'dead letter');
    controller.abort();
    await worker;

    expect(done).toEqual(['cdr-4000', 'cdr-4001', 'cdr-4003', 'cdr-4004']);
    expect(attempts.get('cdr-4002')).toBe(3);
    const dead = (await client.xRange(keys().integratorDeadLetters('quality'), '-', '+'))?.[0];
    expect(dead?.message).toMatchObject({ id: 'cdr-4002', type: 'cdr.created', deliveries: '3' });
    expect(JSON.parse(dead!.message.event!)).toMatchObject({ id: 'cdr-4002', data: { call_id: 'call-4002' } });
    const lag = (await api(hub.url, 'GET', '/v1/integrators/quality')).body.lag;
    expect(lag).toMatchObject({ pending: 0, deadLetters: 1, undelivered: 0 });
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_integrator_dead_letters\{integrator="quality"\} 1/);
    expect(metrics).toMatch(/switchboard_integrator_pending\{integrator="crm-a"\} 0/);
    expect(metrics).toMatch(/switchboard_integrator_undelivered\{integrator="crm-a"\} \d+/);
  });

  it("dead-letters in the hub's sweeper too, for consumers that do not use the helper", async () => {
    await api(hub.url, 'POST', '/v1/integrators', { name: 'raw' });
    await postEvents(hub.url, [cdrEvent(4500)]);
    const read = (from: string) => client.sendCommand(['XREADGROUP', 'GROUP', 'raw', 'r1', 'COUNT', '10', 'STREAMS', keys().cdrStream, from]);
    await read('>');
    await read('0');
    await read('0'); // three deliveries, never acknowledged
    await waitFor(async () => (await client.xLen(keys().integratorDeadLetters('raw'))) === 1, 5000, 'sweeper');
    expect((await api(hub.url, 'GET', '/v1/integrators/raw')).body.lag).toMatchObject({ pending: 0, deadLetters: 1 });
  });

  it('stops the helper with an error when its integrator is removed', async () => {
    const worker = consumeCdrs({ url: redis.url, keyPrefix: 'sbtest', integrator: 'raw', consumer: 'helper-1', blockMs: 50, handler: () => {} });
    const stopped = expect(worker).rejects.toThrow('integrator "raw" was removed');
    // The helper is running once its consumer has joined the group (its first read). The group
    // already has the previous test's consumer r1: look for this one by name.
    await waitFor(async () => {
      const consumers = (await client.sendCommand(['XINFO', 'CONSUMERS', keys().cdrStream, 'raw'])) as string[][];
      return consumers.some((fields) => fields[1] === 'helper-1');
    }, 30_000, 'the helper to read');
    expect((await api(hub.url, 'DELETE', '/v1/integrators/raw')).status).toBe(204);
    await stopped;
    await expect(consumeCdrs({ url: redis.url, keyPrefix: 'sbtest', integrator: 'raw', consumer: 'r1', handler: () => {} })).rejects.toThrow(/no integrator "raw"/);
  });

  it('delivers opted-in types to the integrators that chose them only', async () => {
    await api(hub.url, 'POST', '/v1/integrators', { name: 'desk', types: ['cdr.created', 'call.connected'], legacyList: true, stream: true });
    const seen: string[] = [];
    const controller = new AbortController();
    const worker = consumeCdrs({
      url: redis.url, keyPrefix: 'sbtest', integrator: 'desk', consumer: 'd1', blockMs: 50, signal: controller.signal,
      types: ['cdr.created', 'call.connected'],
      handler: (cdr) => void seen.push(cdr.type),
    });
    const quality: string[] = [];
    const qualityController = new AbortController();
    const qualityWorker = consumeCdrs({
      url: redis.url, keyPrefix: 'sbtest', integrator: 'quality', consumer: 'q1', blockMs: 50, signal: qualityController.signal,
      handler: (cdr) => void quality.push(`${cdr.type} ${cdr.id}`),
    });
    await postEvents(hub.url, [
      { type: 'call.connected', data: { call_id: 'k1', agent: '1002' } },
      cdrEvent(5000),
    ]);
    await waitFor(() => seen.length === 2 && quality.includes('cdr.created cdr-5000'), 10_000, 'typed delivery');
    controller.abort();
    qualityController.abort();
    await Promise.all([worker, qualityWorker]);
    expect(seen).toEqual(['call.connected', 'cdr.created']);
    expect(quality).toEqual(['cdr.created cdr-4500', 'cdr.created cdr-5000']); // 4500: posted for `raw` meanwhile
    // Its legacy list gets the event JSON for non-CDR types and the Enigma CDR message for CDRs.
    const list = await client.lRange(keys().integratorList('desk'), 0, -1);
    expect(list.reverse().map((message) => JSON.parse(message).type)).toEqual(['call.connected', 'cdr']);
    expect((await api(hub.url, 'GET', '/v1/integrators/quality')).body.lag.pending).toBe(0);
  });

  it('removes an integrator with its group, list and dead letters', async () => {
    expect((await api(hub.url, 'DELETE', '/v1/integrators/quality')).status).toBe(204);
    expect((await api(hub.url, 'GET', '/v1/integrators/quality')).status).toBe(404);
    expect(await client.exists(keys().integratorDeadLetters('quality'))).toBe(0);
    const groups = (await client.sendCommand(['XINFO', 'GROUPS', keys().cdrStream])) as unknown[][];
    expect(groups.map((group) => group[1])).not.toContain('quality');
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'quality' })).status).toBe(201);
  });

  it('does the same from the CLI: integrators add|show|remove and replay', async () => {
    const cli = async (...args: string[]) => {
      const out = new PassThrough();
      let text = '';
      out.on('data', (chunk: Buffer) => (text += chunk.toString()));
      const program = new Command().exitOverride();
      registerIntegratorCommands(program, { url: hub.url, token: TEST_TOKEN }, out);
      await program.parseAsync(['node', 'switchboard', ...args]);
      return text;
    };
    const added = JSON.parse(await cli('integrators', 'add', 'cli-a', '--legacy-list', '--stream'));
    expect(added).toMatchObject({ name: 'cli-a', stream: keys().cdrStream, group: 'cli-a', list: keys().integratorList('cli-a') });
    const since = new Date().toISOString();
    await new Promise((resolve) => setTimeout(resolve, 5));
    await postEvents(hub.url, [cdrEvent(6000), cdrEvent(6001), cdrEvent(6002)]);
    const lines = (await cli('replay', 'cli-a', '--since', since, '--page', '2')).trim().split('\n');
    expect(lines.map((line) => JSON.parse(line).id)).toEqual(['cdr-6000', 'cdr-6001', 'cdr-6002']);
    expect(JSON.parse(await cli('integrators', 'show', 'cli-a')).lag).toMatchObject({ listLength: 3, undelivered: 3 });
    await expect(cli('integrators', 'add', 'cli-a')).rejects.toMatchObject({ code: 'CONFLICT', status: 409 });
    expect(await cli('integrators', 'remove', 'cli-a')).toBe('removed integrator cli-a\n');
  });
});
