import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeCdrs, type ConsumeCdrsOptions } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { waitFor } from './helpers/wait.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { postEvents, startHub } from './helpers/hub.js';

const EXAMPLE = fileURLToPath(new URL('../examples/consume-cdrs.mjs', import.meta.url));

describe('every integrator gets every CDR', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const controllers: AbortController[] = [];
  const workers: Promise<void>[] = [];

  /** Starts a worker that records every id it is handed. */
  const worker = (integrator: string, consumer: string, seen: string[], extra: Partial<ConsumeCdrsOptions> = {}) => {
    const controller = new AbortController();
    controllers.push(controller);
    workers.push(
      consumeCdrs({
        url: redis.url,
        keyPrefix: 'sbtest',
        integrator,
        consumer,
        blockMs: 100,
        claimIdleMs: 1000,
        signal: controller.signal,
        handler: (cdr) => void seen.push(cdr.id),
        ...extra,
      }),
    );
    return controller;
  };

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, { integrators: { trimIntervalMs: 200, sweepIntervalMs: 200, claimIdleMs: 1000 } });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    for (const controller of controllers) controller.abort();
    await Promise.allSettled(workers);
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('3 integrators × 2 workers receive all 10,000 CDRs across a Redis restart; a stalled one delays nobody', async () => {
    const names = ['crm', 'billing', 'analytics'];
    for (const name of [...names, 'stalled']) expect((await api(hub.url, 'POST', '/v1/integrators', { name })).status).toBe(201);
    const seen = new Map(names.map((name) => [name, { a: [] as string[], b: [] as string[] }]));
    for (const name of names) {
      worker(name, 'a', seen.get(name)!.a);
      worker(name, 'b', seen.get(name)!.b);
    }
    // The stalled integrator's only worker takes one batch and does not finish it until the end.
    const release = new AbortController();
    controllers.push(release);
    worker('stalled', 'a', [], { handler: () => new Promise<void>((resolve) => release.signal.addEventListener('abort', () => resolve())) });

    const total = 10_000;
    const expected = Array.from({ length: total }, (_, i) => `cdr-${i}`);
    for (let i = 0; i < total; i += 500) {
      if (i === 5000) await redis.stop(); // Redis down for two batches: intake spools them
      if (i === 6000) await redis.start();
      const response = await postEvents(hub.url, Array.from({ length: 500 }, (_, k) => cdrEvent(i + k)));
      expect(response.status).toBe(202);
    }
    expect((await hub.context.metrics.eventsSpooled.get()).values[0]?.value).toBeGreaterThanOrEqual(1000);

    for (const name of names) {
      const { a, b } = seen.get(name)!;
      await waitFor(() => new Set([...a, ...b]).size === total, 40_000, `${name} to receive every CDR`);
      const ids = new Set([...a, ...b]);
      expect([...ids].sort()).toEqual([...expected].sort());
      expect(a.length).toBeGreaterThan(0); // both workers shared the load
      expect(b.length).toBeGreaterThan(0);
    }
    const stalled = (await api(hub.url, 'GET', '/v1/integrators/stalled')).body.lag;
    expect(stalled.pending).toBe(100); // its first batch; the stream keeps all the rest for it
    expect(await client.xLen(hub.context.keys.cdrStream)).toBe(total);
    // The legacy Enigma list is complete and in order too.
    const legacy = await client.lRange(hub.context.keys.enigmaCdrList, 0, -1);
    expect(legacy.reverse().map((message) => JSON.parse(message).payload.call_ref)).toEqual(expected.map((id) => id.replace('cdr-', 'call-')));
  });

  it('a worker killed -9 mid-batch: its pending CDRs reach its sibling', async () => {
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'crash' })).status).toBe(201);
    const ids = Array.from({ length: 300 }, (_, i) => `cdr-${20_000 + i}`);
    await postEvents(hub.url, Array.from({ length: 300 }, (_, i) => cdrEvent(20_000 + i)));

    const child = spawn(process.execPath, [EXAMPLE], {
      env: {
        PATH: process.env.PATH ?? '',
        SWITCHBOARD_REDIS_URL: redis.url,
        SWITCHBOARD_KEY_PREFIX: 'sbtest',
        INTEGRATOR: 'crash',
        CONSUMER: 'doomed',
        SIMULATED_WORK_MS: '20',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let printed = '';
    child.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    await waitFor(() => printed.split('\n').length > 10, 15_000, 'the child to start processing');
    child.kill('SIGKILL');
    await once(child, 'exit');
    const summary = (await client.sendCommand(['XPENDING', hub.context.keys.cdrStream, 'crash'])) as [number, string, string, [string, string][]];
    expect(summary[0]).toBeGreaterThan(0);
    expect(summary[3]).toEqual([['doomed', String(summary[0])]]);

    const sibling: string[] = [];
    worker('crash', 'sibling', sibling, { claimIdleMs: 300 });
    const handledByChild = printed.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    await waitFor(() => new Set([...sibling, ...handledByChild]).size === ids.length, 20_000, 'the sibling to take over');
    expect([...new Set([...sibling, ...handledByChild])].sort()).toEqual([...ids].sort());
    await waitFor(async () => (await api(hub.url, 'GET', '/v1/integrators/crash')).body.lag.pending === 0, 5000, 'no pending left');
  });
});
