import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Value } from '@sinclair/typebox/value';
import { parseConfig } from '../src/config/load.js';
import { hashPassword } from '../src/cti/basic-auth.js';
import { parsePools } from '../src/cti/pools.js';
import { EVENT_DATA_SCHEMAS, type EventType } from '../src/events/catalogue.js';
import type { Hub } from '../src/hub.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { sleep } from './helpers/wait.js';

// curl --user "username:password", as in the session of docs/contracts/cti-cache.md.
const SEED_AUTH = `Basic ${Buffer.from('username:password').toString('base64')}`;

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  body: Record<string, unknown>;
}

/** `authorization` '' sends none. */
async function call(url: string, init: RequestInit = {}, authorization = SEED_AUTH): Promise<Answer> {
  const headers = new Headers(init.headers);
  if (authorization) headers.set('authorization', authorization);
  const response = await fetch(url, { ...init, headers });
  const text = await response.text();
  const json = response.headers.get('content-type')?.startsWith('application/json') ?? false;
  return { status: response.status, headers: response.headers, text, body: json ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const post = (base: string, body: unknown, authorization?: string) =>
  call(
    `${base}/cticache/DNIS-ANI`,
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) },
    authorization,
  );
const get = (base: string, key: string) => call(`${base}/cticache/DNIS-ANI/${key}`);
const del = (base: string, key: string) => call(`${base}/cticache/DNIS-ANI/${key}`, { method: 'DELETE' });

describe('CTI call-data cache (docs/contracts/cti-cache.md)', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      cti: {
        users: [
          { username: 'username', password: 'password' },
          { username: 'system-y', passwordHash: await hashPassword('s3cret: with colon') },
        ],
        defaultPool: 'seed',
        maxValueBytes: 256,
        // This file tests what each credential gets, one after another; throttling has its own test.
        maxChecksPerSecond: 1000,
        pools: {
          seed: ['5551234568-5551234569'],
          tiny: ['5550001000-5550001002'],
          solo: [5550003000, '5550003001'],
          short: { numbers: ['5550002000-5550002001'], ttlSeconds: 1 },
          brief: { numbers: ['5550004000'], ttlSeconds: 2 },
        },
      },
    });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    // Not quit(): this client lived through a Redis restart.
    client?.destroy();
    await hub?.close();
    await redis?.close();
  });

  it('replays the documented session: POST 201 with Location, GET 200, DELETE 200, then 404', async () => {
    const created = await post(hub.url, '{"value" : "12345678", "ani" : "1234567890"}');
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('/cticache/DNIS-ANI/5551234568:1234567890');
    expect(created.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(created.text).toBe('{"dnis":"5551234568","ani":"1234567890","value":"12345678"}');
    expect(created.headers.get('content-length')).toBe('59');

    const fetched = await get(hub.url, '5551234568:1234567890');
    expect(fetched.status).toBe(200);
    expect(fetched.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(fetched.text).toBe('{"value":"12345678"}');
    expect(fetched.headers.get('content-length')).toBe('20');

    const deleted = await del(hub.url, '5551234568:1234567890');
    expect(deleted.status).toBe(200);
    expect(deleted.text).toBe('{"value":"12345678"}');

    for (const again of [await get(hub.url, '5551234568:1234567890'), await del(hub.url, '5551234568:1234567890')]) {
      expect(again.status).toBe(404);
      expect(again.body.error).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('records cti.data_stored and cti.data_fetched in the event log with the write itself, without the value', async () => {
    const logged = async () =>
      ((await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? []).map((entry) => ({
        fields: entry.message,
        event: JSON.parse(entry.message.event!) as { id: string; type: EventType; time: string; source: string; data: unknown },
      }));
    const before = (await logged()).length;
    const created = await post(hub.url, { value: { secret: 'card-4111' }, ani: 'Anonymous' });
    const dnis = created.body.dnis as string;
    expect((await get(hub.url, `${dnis}:anonymous`)).status).toBe(200);
    expect((await get(hub.url, `${dnis}:447700900999`)).status).toBe(404); // a miss records nothing
    expect((await del(hub.url, `${dnis}:private`)).status).toBe(200);
    expect((await del(hub.url, `${dnis}:private`)).status).toBe(404);

    // Written by the same script as the entry: present as soon as the answer is.
    const entries = (await logged()).slice(before);
    const common = { pool: 'seed', dnis, size_bytes: 22 };
    expect(entries.map(({ event }) => [event.type, event.data])).toEqual([
      ['cti.data_stored', { ...common, ani: 'Anonymous' }],
      ['cti.data_fetched', { ...common, ani: 'anonymous', deleted: false }],
      ['cti.data_fetched', { ...common, ani: 'private', deleted: true }],
    ]);
    for (const { fields, event } of entries) {
      expect(fields).toMatchObject({ id: event.id, type: event.type });
      expect(event.source).toBe('switchboard-cti');
      expect(Date.now() - Date.parse(event.time)).toBeLessThan(60_000);
      expect(Value.Check(EVENT_DATA_SCHEMAS[event.type], event.data)).toBe(true);
    }
    expect(new Set(entries.map(({ event }) => event.id)).size).toBe(3);
    expect(JSON.stringify(entries)).not.toContain('card-4111');
  });

  it('answers 401 with a Basic challenge to missing or wrong credentials, and accepts hashed passwords', async () => {
    const body = { value: 1, ani: '1000' };
    const missing = await post(hub.url, body, '');
    expect(missing.status).toBe(401);
    expect(missing.body.error).toMatchObject({ code: 'AUTH_REQUIRED' });
    expect(missing.headers.get('www-authenticate')).toMatch(/^Basic realm="/);

    for (const authorization of [
      `Basic ${Buffer.from('username:wrong').toString('base64')}`,
      `Basic ${Buffer.from('nobody:password').toString('base64')}`,
      'Basic not-base64!',
      `Bearer ${TEST_TOKEN}`,
    ]) {
      const wrong = await post(hub.url, body, authorization);
      expect(wrong.status, authorization).toBe(401);
      expect(wrong.body.error).toMatchObject({ code: 'AUTH_INVALID' });
      expect(wrong.headers.get('www-authenticate')).toMatch(/^Basic realm="/);
    }
    const unauthorizedGet = await call(`${hub.url}/cticache/DNIS-ANI/5551234568:1000`, {}, '');
    expect(unauthorizedGet.status).toBe(401);

    const hashed = `Basic ${Buffer.from('system-y:s3cret: with colon').toString('base64')}`;
    const created = await post(hub.url, body, hashed);
    expect(created.status).toBe(201);
    expect((await call(`${hub.url}${created.headers.get('location')!}`, { method: 'DELETE' }, hashed)).body).toEqual({ value: 1 });
  });

  it('stores any JSON value and honours the named pool', async () => {
    for (const value of [{ account: 'A-17', tags: ['vip'], score: 3.5 }, null, false, [1, 'two'], 'ü-ß-€']) {
      const created = await post(hub.url, { value, ani: '2000', pool: 'tiny' });
      expect(created.status).toBe(201);
      expect(created.body).toEqual({ dnis: expect.stringMatching(/^555000100[0-2]$/), ani: '2000', value });
      const key = `${created.body.dnis as string}:2000`;
      expect((await get(hub.url, key)).body).toEqual({ value });
      expect((await del(hub.url, key)).body).toEqual({ value });
    }
  });

  it('never hands out a DNIS:ANI pair in use; 503 naming the pool when exhausted; other ANIs still served', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => post(hub.url, { value: 'x', ani: '3000', pool: 'tiny' })));
    const created = results.filter((result) => result.status === 201);
    const rejected = results.filter((result) => result.status !== 201);
    expect(created).toHaveLength(3);
    expect(new Set(created.map((result) => result.body.dnis)).size).toBe(3);
    for (const result of rejected) {
      expect(result.status).toBe(503);
      expect(result.body.error).toMatchObject({ code: 'POOL_EXHAUSTED', message: expect.stringContaining('"tiny"') });
    }

    const other = await post(hub.url, { value: 'y', ani: '3001', pool: 'tiny' });
    expect(other.status).toBe(201);

    const freed = created[1]!.body.dnis as string;
    expect((await del(hub.url, `${freed}:3000`)).status).toBe(200);
    const again = await post(hub.url, { value: 'z', ani: '3000', pool: 'tiny' });
    expect(again.status).toBe(201);
    expect(again.body.dnis).toBe(freed);

    const readiness = await call(`${hub.url}/readyz`);
    expect(readiness.status).toBe(200);
    // Other components may warn too (e.g. webhooks while acquiring their first lease).
    expect(readiness.body.warnings).toEqual(expect.arrayContaining([expect.stringContaining('"tiny" 100% (3 of 3)')]));

    const metrics = (await call(`${hub.url}/metrics`)).text;
    expect(metrics).toMatch(/switchboard_cti_pool_utilisation_ratio\{pool="tiny"\} 1\b/);
    expect(metrics).toMatch(/switchboard_cti_pool_in_use\{pool="tiny"\} 3\b/);
    expect(metrics).toMatch(/switchboard_cti_exhaustions_total\{pool="tiny"\} 5\b/);
    expect(metrics).toMatch(/switchboard_cti_allocations_total\{pool="tiny"\} \d+/);
    expect(metrics).toMatch(/switchboard_cti_hits_total\{pool="seed",method="GET"\} \d+/);
    expect(metrics).toMatch(/switchboard_cti_misses_total\{pool="seed",method="DELETE"\} \d+/);

    for (const result of [...created, other, again]) await del(hub.url, (result.headers.get('location') ?? '').split('/').pop()!);
    expect(await client.keys(`${hub.context.keys.ctiPool('tiny').busyPrefix}*`)).toEqual([]);
  });

  it('spreads use across the pool', async () => {
    const dnis: string[] = [];
    for (const ani of ['4000', '4001', '4002']) {
      const created = await post(hub.url, { value: ani, ani, pool: 'tiny' });
      dnis.push(created.body.dnis as string);
      await del(hub.url, `${created.body.dnis as string}:${ani}`);
    }
    expect(new Set(dnis).size).toBe(3);
  });

  it('leases a DNIS exclusively to a withheld ANI, found by DNIS with any withheld form', async () => {
    const a = await post(hub.url, { value: 'A', ani: '5000', pool: 'solo' });
    expect(a.body.dnis).toBe('5550003000');

    const hidden = await post(hub.url, { value: 'hidden', ani: 'Anonymous', pool: 'solo' });
    expect(hidden.status).toBe(201);
    expect(hidden.body).toEqual({ dnis: '5550003001', ani: 'Anonymous', value: 'hidden' });
    expect(hidden.headers.get('location')).toBe('/cticache/DNIS-ANI/5550003001:Anonymous');

    // 3000 is in use by 5000, 3001 is leased exclusively.
    const secondHidden = await post(hub.url, { value: 'no', ani: 'PRIVATE', pool: 'solo' });
    expect(secondHidden.status).toBe(503);
    const empty = await post(hub.url, { value: 'no', ani: '', pool: 'solo' });
    expect(empty.status).toBe(503);

    // Another caller shares 3000, never the exclusive 3001.
    const b = await post(hub.url, { value: 'B', ani: '5001', pool: 'solo' });
    expect(b.body.dnis).toBe('5550003000');
    const c = await post(hub.url, { value: 'C', ani: '5002', pool: 'solo' });
    expect(c.body.dnis).toBe('5550003000');

    expect((await get(hub.url, '5550003001:restricted')).body).toEqual({ value: 'hidden' });
    expect((await get(hub.url, '5550003001:')).body).toEqual({ value: 'hidden' });
    expect((await get(hub.url, '5550003001:5000')).status).toBe(404);
    expect((await del(hub.url, '5550003001:unknown')).body).toEqual({ value: 'hidden' });

    // 3000 is still in use by three callers: a withheld ANI cannot take it, but the freed 3001 is there.
    expect((await post(hub.url, { value: 'again', ani: 'private', pool: 'solo' })).body.dnis).toBe('5550003001');
    expect((await post(hub.url, { value: 'full', ani: 'anonymous', pool: 'solo' })).status).toBe(503);
    for (const key of ['5550003000:5000', '5550003000:5001', '5550003000:5002', '5550003001:private']) {
      expect((await del(hub.url, key)).status).toBe(200);
    }
  });

  it('expires entries after the pool TTL and frees their DNIS', async () => {
    const first = await post(hub.url, { value: 'soon gone', ani: '6000', pool: 'short' });
    const second = await post(hub.url, { value: 'soon gone', ani: '6000', pool: 'short' });
    expect([first.status, second.status]).toEqual([201, 201]);
    expect((await post(hub.url, { value: 'x', ani: '6000', pool: 'short' })).status).toBe(503);
    const key = `${first.body.dnis as string}:6000`;
    expect((await get(hub.url, key)).status).toBe(200);
    expect(await client.pTTL(`${hub.context.keys.ctiPool('short').entryPrefix}${key}`)).toBeLessThanOrEqual(1000);

    await sleep(1200);
    expect((await get(hub.url, key)).status).toBe(404);
    expect((await del(hub.url, key)).status).toBe(404);
    // The pool status is cached for a second: this scrape reads Redis after the expiry.
    expect((await call(`${hub.url}/metrics`)).text).toMatch(/switchboard_cti_pool_in_use\{pool="short"\} 0\b/);
    const refill = await Promise.all([1, 2].map(() => post(hub.url, { value: 'y', ani: '6000', pool: 'short' })));
    expect(refill.map((result) => result.status)).toEqual([201, 201]);
  });

  it('rejects malformed bodies with 400 and precise details, oversize values with 413', async () => {
    const cases: [string, string, string][] = [
      ['{"value": "x", "ani": ', 'MALFORMED_JSON', ''],
      ['{"value": "x"}', 'VALIDATION_FAILED', '/ani'],
      ['{"ani": "123"}', 'VALIDATION_FAILED', '/value'],
      ['{"value": "x", "ani": 1234567890}', 'VALIDATION_FAILED', '/ani'],
      ['{"value": "x", "ani": "123", "pool": 7}', 'VALIDATION_FAILED', '/pool'],
      ['{"value": "x", "ani": "123", "dnis": "555"}', 'VALIDATION_FAILED', '/dnis'],
      ['["x", "123"]', 'VALIDATION_FAILED', ''],
      [`{"value": "x", "ani": "${'9'.repeat(65)}"}`, 'VALIDATION_FAILED', '/ani'],
      ['{"value": "x", "ani": "12\\n3"}', 'VALIDATION_FAILED', '/ani'],
    ];
    for (const [body, code, path] of cases) {
      const answer = await post(hub.url, body);
      expect(answer.status, body).toBe(400);
      expect(answer.body.error, body).toMatchObject({ code });
      if (path) expect((answer.body.error as { details: { path: string }[] }).details.map((detail) => detail.path), body).toContain(path);
    }

    const unknownPool = await post(hub.url, { value: 'x', ani: '123', pool: 'nowhere' });
    expect(unknownPool.status).toBe(400);
    expect(unknownPool.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'unknown pool "nowhere"' });

    const text = await call(`${hub.url}/cticache/DNIS-ANI`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);

    const oversize = await post(hub.url, { value: 'x'.repeat(255), ani: '123' });
    expect(oversize.status).toBe(413);
    expect(oversize.body.error).toMatchObject({ code: 'VALUE_TOO_LARGE', message: expect.stringContaining('257 bytes') });
    const huge = await post(hub.url, { value: 'x'.repeat(5000), ani: '123' });
    expect(huge.status).toBe(413);
    const fits = await post(hub.url, { value: 'x'.repeat(254), ani: '123' });
    expect(fits.status).toBe(201);
    await del(hub.url, `${fits.body.dnis as string}:123`);

    expect((await get(hub.url, 'no-colon')).status).toBe(404);
    expect((await get(hub.url, '999:123')).status).toBe(404);
  });

  it('keeps a number from a withheld caller while any lease on it may be live, and frees it after the last', async () => {
    // Leases of 2 s, taken 1 s apart: the checks while the second is live have 0.9 s to spare.
    const first = await post(hub.url, { value: 'never fetched', ani: '6100', pool: 'brief' });
    const started = Date.now(); // the first lease ends within two seconds of this
    await sleep(1000);
    const second = await post(hub.url, { value: 'fetched', ani: '6101', pool: 'brief' });
    const secondAt = Date.now(); // its lease ends within two seconds of this, and not before started + 3 s
    expect([first.body.dnis, second.body.dnis]).toEqual(['5550004000', '5550004000']);
    await sleep(2100 - (Date.now() - started));
    expect((await get(hub.url, '5550004000:6100')).status).toBe(404); // ran out unfetched
    expect((await post(hub.url, { value: 'x', ani: 'anonymous', pool: 'brief' })).status).toBe(503); // 6101 is live

    expect((await del(hub.url, '5550004000:6101')).status).toBe(200);
    // The expired lease was never counted down: the number stays busy until the last lease would have ended.
    expect((await post(hub.url, { value: 'x', ani: 'anonymous', pool: 'brief' })).status).toBe(503);
    await sleep(2100 - (Date.now() - secondAt));
    const withheld = await post(hub.url, { value: 'now', ani: 'anonymous', pool: 'brief' });
    expect(withheld.status).toBe(201);
    expect((await post(hub.url, { value: 'x', ani: '6102', pool: 'brief' })).status).toBe(503); // leased exclusively
    expect((await del(hub.url, '5550004000:anonymous')).status).toBe(200);
  });

  it('answers 503 when Redis does not answer within redis.commandTimeoutMs, and serves again after', async () => {
    const created = await post(hub.url, { value: 'slow', ani: '7100' });
    const key = `${created.body.dnis as string}:7100`;
    await client.sendCommand(['CLIENT', 'PAUSE', '1500', 'ALL']);
    const started = performance.now();
    const stalled = await get(hub.url, key);
    const waitedMs = performance.now() - started;
    expect(stalled.status).toBe(503);
    expect(stalled.body.error).toMatchObject({ code: 'REDIS_UNAVAILABLE' });
    // The test hub's commandTimeoutMs is 300; the deadline sweep runs every quarter of it.
    expect(waitedMs).toBeGreaterThanOrEqual(290);
    expect(waitedMs).toBeLessThan(1000);
    await expect.poll(async () => (await get(hub.url, key)).status, { timeout: 5000 }).toBe(200);
    expect((await del(hub.url, key)).status).toBe(200);
  });

  it('puts a pool lost by Redis back on the next POST, and answers 503 while Redis is down', async () => {
    await client.flushAll();
    const created = await post(hub.url, { value: 'after flush', ani: '7000' });
    expect(created.status).toBe(201);
    await del(hub.url, `${created.body.dnis as string}:7000`);

    await redis.stop();
    try {
      const down = await post(hub.url, { value: 'x', ani: '7001' });
      expect(down.status).toBe(503);
      expect(down.body.error).toMatchObject({ code: 'REDIS_UNAVAILABLE' });
      expect((await get(hub.url, '5551234568:7001')).status).toBe(503);
      expect((await call(`${hub.url}/metrics`)).status).toBe(200);
    } finally {
      await redis.start();
    }
    await expect.poll(async () => (await post(hub.url, { value: 'back', ani: '7002' })).status, { timeout: 10_000 }).toBe(201);
  });

  it('documents the routes in the OpenAPI document', async () => {
    const openapi = (await call(`${hub.url}/openapi.json`)).body as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(openapi.paths['/cticache/DNIS-ANI']!)).toContain('post');
    expect(Object.keys(openapi.paths['/cticache/DNIS-ANI/{key}']!)).toEqual(expect.arrayContaining(['get', 'delete']));
  });
});

describe('cti.pools', () => {
  const pools = (cti: Record<string, unknown>) => parsePools(parseConfig({ cti }).cti);

  it('expands ranges, keeps leading zeros and +, and picks the default pool', () => {
    const parsed = pools({ pools: { y: ['0201-0203', 5550000, '+4420-+4421'], z: { numbers: ['7'], ttlSeconds: 5 } }, defaultPool: 'z', ttlSeconds: 30 });
    expect(parsed.byName.get('y')).toEqual({ name: 'y', numbers: ['0201', '0202', '0203', '5550000', '+4420', '+4421'], ttlSeconds: 30 });
    expect(parsed.byName.get('z')?.ttlSeconds).toBe(5);
    expect(parsed.defaultPool?.name).toBe('z');
    expect(parsed.byDnis.get('0202')?.name).toBe('y');
    expect(pools({ pools: { only: ['1'] } }).defaultPool?.name).toBe('only');
    expect(pools({ pools: { a: ['1'], b: ['2'] } }).defaultPool).toBeUndefined();
  });

  it('refuses bad numbers, bad ranges, shared numbers and an unknown default pool, naming the key', () => {
    expect(() => pools({ pools: { y: ['12ab'] } })).toThrow(/cti\.pools\.y\[0\]: "12ab"/);
    expect(() => pools({ pools: { y: ['200-199'] } })).toThrow(/ends before it starts/);
    expect(() => pools({ pools: { y: ['1-100'] } })).toThrow(/same form and number of digits/);
    expect(() => pools({ pools: { y: ['1000000-1999999'] } })).toThrow(/more than 100000 numbers/);
    expect(() => pools({ pools: { y: ['5'], z: ['4-6'] } })).toThrow(/cti\.pools\.z\[0\]: 5 is already in pool "y"/);
    expect(() => pools({ pools: { y: ['5'] }, defaultPool: 'x' })).toThrow(/cti\.defaultPool/);
    expect(() => pools({ pools: { 'bad{tag}': ['1'] } })).toThrow(/cti\.pools\.bad\{tag\}: pool names/);
  });
});
