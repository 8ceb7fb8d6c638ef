import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../src/config/load.js';
import { createKeys } from '../src/redis/keys.js';
import { startChildHub, type ChildHub } from './helpers/hub.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';

// Runs the built CLI (npm run build first): two hub processes share one Redis and one pool.
const AUTH = `Basic ${Buffer.from('system-x:transfer-secret').toString('base64')}`;
const POOL = ['5550100000', '5550100001', '5550100002', '5550100003', '5550100004'];

async function post(hub: ChildHub, ani: string, value: unknown = 'call data') {
  const response = await fetch(`${hub.url}/cticache/DNIS-ANI`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: AUTH },
    body: JSON.stringify({ value, ani }),
  });
  return { status: response.status, body: (await response.json()) as { dnis?: string; error?: { code: string; message: string } } };
}

async function request(hub: ChildHub, method: 'GET' | 'DELETE', key: string) {
  const response = await fetch(`${hub.url}/cticache/DNIS-ANI/${key}`, { method, headers: { authorization: AUTH } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('CTI allocation with two hub processes on one Redis', () => {
  let redis: TestRedis;
  let hubs: ChildHub[] = [];
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    redis = await startRedis();
    const dir = tempDir('switchboard-cti-');
    const configFile = join(dir, 'switchboard.yaml');
    writeFileSync(configFile, stringify({ cti: { users: [{ username: 'system-x', password: 'transfer-secret' }], pools: { y: POOL } } }));
    hubs = await Promise.all(
      ['a', 'b'].map((name) =>
        startChildHub({
          SWITCHBOARD_CONFIG: configFile,
          SWITCHBOARD_REDIS_URL: redis.url,
          SWITCHBOARD_DATA_DIR: join(dir, name),
          SWITCHBOARD_KEY_PREFIX: 'ctitest',
        }),
      ),
    );
    client = await connectClient(redis.url);
  });
  afterAll(async (suite) => {
    if (suite.tasks.some((task) => task.result?.state === 'fail')) {
      for (const hub of hubs) process.stderr.write(`--- hub output\n${hub.output()}\n`);
    }
    await client?.quit();
    for (const hub of hubs) await hub.kill('SIGTERM');
    await redis?.close();
  });

  it('hands each DNIS to one POST for the same ANI; the rest get 503; another ANI still gets one', async () => {
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => post(hubs[i % 2]!, '4412345')));
    const created = results.filter((result) => result.status === 201);
    expect(created).toHaveLength(POOL.length);
    expect(new Set(created.map((result) => result.body.dnis))).toEqual(new Set(POOL));
    const rejected = results.filter((result) => result.status !== 201);
    expect(rejected).toHaveLength(60 - POOL.length);
    for (const result of rejected) {
      expect(result.status).toBe(503);
      expect(result.body.error).toMatchObject({ code: 'POOL_EXHAUSTED', message: expect.stringContaining('pool "y"') });
    }

    const other = await post(hubs[1]!, '4499999', { crm: 'acct-1' });
    expect(other.status).toBe(201);
    // Stored through one node, fetched through the other.
    expect(await request(hubs[0]!, 'GET', `${other.body.dnis!}:4499999`)).toEqual({ status: 200, body: { value: { crm: 'acct-1' } } });

    for (const [index, result] of created.entries()) {
      expect((await request(hubs[index % 2]!, 'DELETE', `${result.body.dnis!}:4412345`)).status).toBe(200);
    }
    expect((await request(hubs[1]!, 'DELETE', `${other.body.dnis!}:4499999`)).status).toBe(200);
  });

  it('never hands out a DNIS still in use while both nodes churn through the pool', async () => {
    const held = new Set<string>();
    const violations: string[] = [];
    // Each of the 16 workers completes this many allocations, however slow the machine.
    const allocationsPerWorker = 8;
    const worker = async (hub: ChildHub) => {
      for (let mine = 0; mine < allocationsPerWorker; ) {
        const created = await post(hub, '4400000');
        if (created.status !== 201) {
          expect(created.status).toBe(503);
          continue;
        }
        const dnis = created.body.dnis!;
        if (held.has(dnis)) violations.push(dnis);
        held.add(dnis);
        mine += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
        // Released from our books before the DELETE: a later POST may legitimately get it back.
        held.delete(dnis);
        expect((await request(hub, 'DELETE', `${dnis}:4400000`)).status).toBe(200);
      }
    };
    await Promise.all(Array.from({ length: 16 }, (_, i) => worker(hubs[i % 2]!)));
    expect(violations).toEqual([]);

    const keys = createKeys(parseConfig({ keyPrefix: 'ctitest' })).ctiPool('y');
    // Every lease was released by its DELETE: no DNIS is left counted as busy.
    expect(await client.keys(`${keys.busyPrefix}*`)).toEqual([]);
  });
});
