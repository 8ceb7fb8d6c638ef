import { createClient } from 'redis';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { postEvents, startChildHub, startHub, type ChildHub } from './helpers/hub.js';
import { sleep, waitFor } from './helpers/wait.js';

/** Alternates agent status events and CDRs, numbered, so order can be checked on every channel. */
function eventFor(sequence: number) {
  const id = `evt-${String(sequence).padStart(6, '0')}`;
  return sequence % 2 === 0
    ? { id, type: 'agent.status_changed', data: { agent: '1002', status: 'available', ref: id } }
    : { id, type: 'cdr.created', data: { call_id: id, number: '+27215550100', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered', agent: '1002', ref: id } };
}

/** A subscriber that reconnects quickly, as a production integrator's would. */
async function agentSubscriber(url: string) {
  const client = createClient({ url, RESP: 2, socket: { reconnectStrategy: () => 10 } });
  client.on('error', () => {});
  await client.connect();
  const refs: string[] = [];
  await client.subscribe('enigma:notifications:agents:1002', (message) => refs.push(JSON.parse(message).payload.ref));
  return { client, refs };
}

async function logIds(url: string, key: string): Promise<string[]> {
  const client = await connectClient(url);
  const entries = await client.xRange(key, '-', '+');
  await client.quit();
  return (entries ?? []).map((entry) => entry.message.id!);
}

async function cdrListRefs(url: string): Promise<string[]> {
  const client = await connectClient(url);
  // LPUSH + BRPOP is FIFO: the oldest CDR is at the right end.
  const messages = await client.lRange('enigma:notifications:campaigns', 0, -1);
  await client.quit();
  return messages.reverse().map((message) => JSON.parse(message).payload.ref);
}

describe('Redis outage while events stream in', () => {
  let redis: TestRedis | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('answers 202 throughout and delivers every accepted event exactly once, in order, to the log, the CDR list and subscribers', async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
    const subscriber = await agentSubscriber(redis.url);
    const accepted: number[] = [];
    const statuses = new Set<number>();
    let sequence = 0;
    let stop = false;
    let sawSpool = false;

    const producer = (async () => {
      while (!stop) {
        const current = sequence++;
        const response = await postEvents(hub!.url, eventFor(current));
        statuses.add(response.status);
        if (response.status === 202) accepted.push(current);
        if (hub!.context.appender.spoolDepth > 0) sawSpool = true;
        await sleep(4); // a dialler's pace, not a synchronisation
      }
    })();

    // Each phase lasts until enough events went through it, however slow the machine is.
    await waitFor(() => accepted.length >= 50, 30_000, 'events accepted before the outage');
    await redis.stop();
    await waitFor(() => hub!.context.appender.spoolDepth >= 30, 30_000, 'events spooled during the outage');
    await redis.start();
    const atRestart = accepted.length;
    await waitFor(() => accepted.length >= atRestart + 50, 30_000, 'events accepted after Redis returned');
    stop = true;
    await producer;

    expect([...statuses]).toEqual([202]);
    expect(sawSpool).toBe(true);
    await waitFor(() => hub!.context.appender.spoolDepth === 0, 20_000, 'the spool to drain');

    const expected = accepted.map((n) => eventFor(n).id);
    expect(await logIds(redis.url, hub.context.keys.eventLog)).toEqual(expected);
    expect(await cdrListRefs(redis.url)).toEqual(expected.filter((_, i) => accepted[i]! % 2 === 1));
    const expectedStatuses = expected.filter((_, i) => accepted[i]! % 2 === 0);
    await waitFor(() => subscriber.refs.length >= expectedStatuses.length, 5000, 'subscriber messages');
    expect(subscriber.refs).toEqual(expectedStatuses);
    await subscriber.client.quit();
  });

  it('keeps each producer\'s order and loses nothing when concurrent producers keep several writes in flight', async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
    const producers = 6;
    const accepted: string[][] = Array.from({ length: producers }, () => []);
    let stop = false;
    const run = async (producer: number) => {
      for (let sequence = 0; !stop; sequence += 1) {
        const batch = [0, 1].map((offset) => {
          const event = eventFor(sequence * 2 + offset);
          const id = `p${producer}-${event.id}`;
          return { ...event, id, data: { ...event.data, ref: id, ...(event.type === 'cdr.created' ? { call_id: id } : {}) } };
        });
        const response = await postEvents(hub!.url, batch);
        expect(response.status).toBe(202);
        accepted[producer]!.push(...batch.map((event) => event.id));
      }
    };
    const running = Array.from({ length: producers }, (_, producer) => run(producer));
    const total = () => accepted.reduce((sum, ids) => sum + ids.length, 0);
    await waitFor(() => total() >= 120, 30_000, 'events accepted before the outage');
    await redis.stop();
    await waitFor(() => hub!.context.appender.spoolDepth >= 60, 30_000, 'events spooled during the outage');
    await redis.start();
    const atRestart = total();
    await waitFor(() => total() >= atRestart + 120, 30_000, 'events accepted after Redis returned');
    stop = true;
    await Promise.all(running);
    await waitFor(() => hub!.context.appender.spoolDepth === 0, 20_000, 'the spool to drain');

    const inLog = await logIds(redis.url, hub.context.keys.eventLog);
    const cdrs = await cdrListRefs(redis.url);
    expect(new Set(inLog).size).toBe(inLog.length);
    expect(inLog).toHaveLength(accepted.flat().length);
    for (const ids of accepted) {
      expect(inLog.filter((id) => ids.includes(id))).toEqual(ids);
      expect(cdrs.filter((id) => ids.includes(id))).toEqual(ids.filter((id) => Number(id.slice(-6)) % 2 === 1));
    }
  });

  it('reports Redis down and the spool depth in /readyz and /metrics, then recovers', async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
    await redis.stop();
    const response = await postEvents(hub.url, [eventFor(1), eventFor(2)]);
    expect(response.status).toBe(202);
    const ready = await fetch(`${hub.url}/readyz`);
    expect(ready.status).toBe(503);
    const body = (await ready.json()) as { reasons: string[] };
    expect(body.reasons).toEqual(expect.arrayContaining(['redis unreachable', '2 events spooled, waiting for Redis']));
    expect(await (await fetch(`${hub.url}/metrics`)).text()).toMatch(/switchboard_spool_depth 2/);
    await redis.start();
    await waitFor(async () => (await fetch(`${hub!.url}/readyz`)).status === 200, 10_000, 'readiness');
    expect(await logIds(redis.url, hub.context.keys.eventLog)).toEqual([eventFor(1).id, eventFor(2).id]);
  });

  it('answers 503 SPOOL_FULL when the spool cannot take more, and changes nothing', async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { spool: { maxBytes: 65_536 } });
    await redis.stop();
    const batch = (start: number) => Array.from({ length: 100 }, (_, i) => ({ ...eventFor(start + i), data: { ...eventFor(start + i).data, custom: { padding: 'x'.repeat(200) } } }));
    let response = await postEvents(hub.url, batch(0));
    let start = 100;
    while (response.status === 202 && start < 10_000) {
      response = await postEvents(hub.url, batch(start));
      start += 100;
    }
    expect(response.status).toBe(503);
    expect(response.body.error).toMatchObject({ code: 'SPOOL_FULL' });
    expect((response.body.error as { message: string }).message).toMatch(/spool is full/);
    const depth = hub.context.appender.spoolDepth;
    expect(depth).toBe(start - 100);
    await redis.start();
    await waitFor(() => hub!.context.appender.spoolDepth === 0, 20_000, 'the spool to drain');
    expect(await logIds(redis.url, hub.context.keys.eventLog)).toHaveLength(depth);
  });
});

describe('kill -9 of the hub', () => {
  let redis: TestRedis | undefined;
  let child: ChildHub | undefined;
  afterEach(async () => {
    await child?.kill('SIGKILL');
    await redis?.close();
  });

  it('loses and reorders nothing acknowledged, whether spooled or written, when killed mid-stream', async () => {
    redis = await startRedis();
    const dataDir = tempDir('switchboard-kill-');
    const env = { SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_DATA_DIR: dataDir, SWITCHBOARD_KEY_PREFIX: 'killtest' };
    child = await startChildHub(env);
    const acknowledged: string[] = [];
    let sequence = 0;
    let stop = false;
    const producer = (async () => {
      while (!stop) {
        const batch = Array.from({ length: 10 }, () => eventFor(sequence++));
        try {
          const response = await postEvents(child!.url, batch);
          if (response.status === 202) acknowledged.push(...batch.map((event) => event.id));
        } catch {
          // The hub died mid-request: that batch was never acknowledged.
        }
      }
    })();

    await waitFor(() => acknowledged.length >= 50, 30_000, 'batches acknowledged before the outage');
    await redis.stop();
    // From here every acknowledged batch went to the spool.
    const atStop = acknowledged.length;
    await waitFor(() => acknowledged.length >= atStop + 50, 30_000, 'batches spooled during the outage');
    await child.kill('SIGKILL');
    stop = true;
    await producer;
    expect(acknowledged.length).toBeGreaterThan(50);

    await redis.start();
    child = await startChildHub(env);
    const key = 'killtest:{log}:events';
    await waitFor(async () => (await logIds(redis!.url, key)).length >= acknowledged.length, 20_000, 'the restarted hub to drain its spool');
    const inLog = await logIds(redis.url, key);
    // Nothing acknowledged is missing, nothing is duplicated, and acceptance order holds.
    // (A batch in flight at the kill may have been made durable without its 202 reaching us.)
    expect(new Set(inLog).size).toBe(inLog.length);
    const acknowledgedInLog = inLog.filter((id) => acknowledged.includes(id));
    expect(acknowledgedInLog).toEqual(acknowledged);
    expect(inLog.slice(0, acknowledged.length)).toEqual(acknowledged);
    const cdrs = await cdrListRefs(redis.url);
    expect(cdrs.filter((id) => acknowledged.includes(id))).toEqual(acknowledged.filter((id) => Number(id.slice(4)) % 2 === 1));
  });

  it('SIGTERM drains and exits 0', async () => {
    redis = await startRedis();
    child = await startChildHub({ SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_DATA_DIR: tempDir(), SWITCHBOARD_LOG_LEVEL: 'info' });
    expect((await postEvents(child.url, eventFor(1))).status).toBe(202);
    expect(await child.kill('SIGTERM')).toBe(0);
    expect(child.output()).toContain('"msg":"stopped"');
  });
});
