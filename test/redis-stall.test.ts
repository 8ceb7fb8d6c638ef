import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

/** The hub-wide deadline of request-path Redis reads, as configured here. */
const DEADLINE_MS = 1000;

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const started = performance.now();
  const result = await call();
  return { ms: performance.now() - started, result };
}

describe('Redis stalled (SIGSTOP): answers in time, and truthful', () => {
  let redis: TestRedis;
  let hub: Hub;
  const stop = () => process.kill(redis.server.pid as number, 'SIGSTOP');
  const resume = () => process.kill(redis.server.pid as number, 'SIGCONT');

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { http: { redisDeadlineMs: DEADLINE_MS }, webhooks: { allowPrivateTargets: true } });
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'crm' })).status).toBe(201);
    expect((await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': 'http://127.0.0.1:9/hook' })).status).toBe(200);
    expect((await postEvents(hub.url, cdrEvent(1))).status).toBe(202);
    // A scrape while Redis answers: the lag gauges have values to serve later.
    expect(await (await fetch(`${hub.url}/metrics`)).text()).toContain('switchboard_integrator_undelivered{integrator="crm"} 1');
  });
  afterAll(async () => {
    resume();
    await hub?.close();
    await redis?.close();
  });

  it('answers /readyz 503 within 1 s, /metrics with what it has, and the listed GETs 503 within their deadline', async () => {
    stop();
    try {
      const ready = await timed(() => fetch(`${hub.url}/readyz`));
      expect(ready.ms).toBeLessThan(1000);
      expect(ready.result.status).toBe(503);
      const readiness = (await ready.result.json()) as { status: string; reasons: string[] };
      expect(readiness.status).toBe('not_ready');
      expect(readiness.reasons.join(' ')).toContain('redis not answering');

      const metrics = await timed(() => fetch(`${hub.url}/metrics`));
      expect(metrics.ms).toBeLessThan(1000);
      expect(metrics.result.status).toBe(200);
      const text = await metrics.result.text();
      expect(text).toContain('switchboard_integrator_undelivered{integrator="crm"} 1');
      expect(text).toContain('switchboard_spool_depth');

      for (const path of ['/v1/subscriptions', '/v1/integrators', '/v1/integrators/crm', '/v1/integrators/crm/replay?since=0-0']) {
        const read = await timed(() => api(hub.url, 'GET', path));
        expect(read.result.status, path).toBe(503);
        expect(read.result.body.error.code, path).toBe('REDIS_UNAVAILABLE');
        expect(read.ms, path).toBeLessThan(DEADLINE_MS + 1000);
      }
      // Intake does not answer 503: it spools.
      const accepted = await timed(() => postEvents(hub.url, cdrEvent(2)));
      expect(accepted.result.status).toBe(202);
    } finally {
      resume();
    }
    // And everything answers again once Redis does.
    await expect.poll(async () => (await fetch(`${hub.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
    expect((await api(hub.url, 'GET', '/v1/integrators/crm')).status).toBe(200);
  });

  it('/readyz names the cause when Redis stalls: never "redis unreachable: " and nothing after', async () => {
    stop();
    let readiness: { status: string; reasons: string[]; checks: { name: string; ok: boolean; message?: string }[] };
    try {
      const ready = await fetch(`${hub.url}/readyz`);
      expect(ready.status).toBe(503);
      readiness = (await ready.json()) as typeof readiness;
    } finally {
      resume();
    }
    const redisCheck = readiness.checks.find((check) => check.name === 'redis');
    expect(redisCheck).toEqual({ name: 'redis', ok: false, message: 'redis not answering (no answer within 400 ms)' });
    expect(readiness.reasons).toEqual(['redis not answering (no answer within 400 ms)']);
    for (const reason of readiness.reasons) expect(reason).not.toMatch(/:\s*$/);
    await expect.poll(async () => (await fetch(`${hub.url}/readyz`)).status, { timeout: 15_000 }).toBe(200);
  });

  it('a 503 never hides a stored event: it names the ids, says they may be stored, and the retry with them is deduplicated', async () => {
    const small = await startHub(redis.url, { keyPrefix: 'sbstall', spool: { maxBytes: 65_536 } });
    try {
      // More than the spool holds: when the Redis write times out, the spool cannot take it.
      const batch = Array.from({ length: 60 }, (_, n) => ({ ...cdrEvent(500 + n), id: undefined, data: { ...cdrEvent(500 + n).data, recording_url: `https://rec.example/${'x'.repeat(1500)}` } }));
      stop();
      let refused;
      try {
        refused = await postEvents(small.url, batch);
      } finally {
        resume();
      }
      expect(refused.status).toBe(503);
      const error = refused.body.error as { code: string; message: string; ids: string[] };
      expect(error.code).toBe('SPOOL_FULL');
      expect(error.message).toContain('may be stored');
      expect(error.ids).toHaveLength(60);
      expect(new Set(error.ids).size).toBe(60);
      // The timed-out write did land once Redis resumed: the 503 said it might.
      const log = small.context.keys.eventLog;
      const { connectClient } = await import('./helpers/redis.js');
      const client = await connectClient(redis.url);
      try {
        await expect.poll(async () => client.xLen(log), { timeout: 15_000 }).toBe(60);
        // The client retries with the ids it was given: nothing is stored or delivered twice.
        const retried = await postEvents(small.url, batch.map((event, n) => ({ ...event, id: error.ids[n] })));
        expect(retried.status).toBe(202);
        expect(retried.body).toMatchObject({ accepted: 60, duplicates: 60, ids: error.ids });
        expect(await client.xLen(log)).toBe(60);
        const stored = ((await client.xRange(log, '-', '+')) ?? []).map((entry) => entry.message.id);
        expect(stored).toEqual(error.ids);
      } finally {
        await client.quit();
      }
    } finally {
      await small.close();
    }
  });
});

describe('webhook leases after a Redis restart without persistence', () => {
  it('logs that the leases expired, not that another token holds them', async () => {
    const { Writable } = await import('node:stream');
    const { pino } = await import('pino');
    const { parseConfig } = await import('../src/config/load.js');
    const { Hub } = await import('../src/hub.js');
    const { tempDir } = await import('./helpers/redis.js');
    const redis = await startRedis({ appendOnly: false });
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    });
    const config = parseConfig({
      dataDir: tempDir('switchboard-data-'),
      keyPrefix: 'sblease',
      http: { port: 0 },
      redis: { url: redis.url, commandTimeoutMs: 300 },
      webhooks: { allowPrivateTargets: true, leaseTtlMs: 3000, pollIntervalMs: 100 },
    });
    const hub = await Hub.start(Object.freeze(config), { logger: pino({ level: 'info' }, sink) });
    try {
      const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': 'http://127.0.0.1:9/hook' });
      expect(created.status).toBe(200);
      const id = created.body.id as string;
      await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'], { timeout: 15_000 }).not.toBe('');
      await redis.restart();
      const lost = () => lines.filter((line) => line.includes('lease lost') && line.includes(id));
      await expect.poll(() => lost().length, { timeout: 15_000 }).toBeGreaterThan(0);
      expect(lost()[0]).toContain('expired: no lease in Redis any more');
      expect(lines.join('')).not.toContain('held by another token');
    } finally {
      await hub.close();
      await redis.close();
    }
  });
});

describe('a hub started while Redis is down', () => {
  it('accepts connections at once and spools, then drains when Redis comes', async () => {
    const { freePort, tempDir, connectClient } = await import('./helpers/redis.js');
    const { LocalRedisServer } = await import('../src/redis/local-server.js');
    // The same start against a Redis that answers, for reference (start-up work on this machine).
    const up = await startRedis();
    let started = performance.now();
    await (await startHub(up.url, { keyPrefix: 'sbup' })).close();
    const referenceMs = performance.now() - started;
    await up.close();

    const port = await freePort();
    started = performance.now();
    const hub = await startHub(`redis://127.0.0.1:${port}`, { keyPrefix: 'sbdown' });
    let server: Awaited<ReturnType<typeof LocalRedisServer.start>> | undefined;
    try {
      const startMs = performance.now() - started;
      // It used to wait 3 s for Redis first (4.4 s in all); now only its own start-up work counts.
      expect(startMs, `started in ${startMs.toFixed(0)} ms; ${referenceMs.toFixed(0)} ms with Redis up`).toBeLessThan(referenceMs + 1000);
      const accepted = await postEvents(hub.url, cdrEvent(1));
      expect(accepted.status).toBe(202);
      expect((await fetch(`${hub.url}/readyz`)).status).toBe(503);
      server = await LocalRedisServer.start({ port, dir: tempDir('switchboard-redis-') });
      const client = await connectClient(`redis://127.0.0.1:${port}`);
      try {
        await expect.poll(async () => client.xLen(hub.context.keys.eventLog), { timeout: 20_000 }).toBe(1);
      } finally {
        await client.quit();
      }
    } finally {
      await hub.close();
      await server?.close();
    }
  });
});
