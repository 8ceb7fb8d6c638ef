import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Hub } from '../src/hub.js';
import { addressRefusal, isPrivateAddress, TargetPolicy } from '../src/webhooks/delivery/target-policy.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const READER = 'reader-token-0123456789';

/** Raw bytes to /v1/events, as a client with a broken encoder would send them. */
async function postRaw(baseUrl: string, body: Buffer | string, contentType = 'application/json') {
  const response = await fetch(`${baseUrl}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${TEST_TOKEN}` },
    body: typeof body === 'string' ? body : new Uint8Array(body),
  });
  return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string; details?: { index?: number; path: string; message: string }[] } } };
}

describe('attacks: every refusal changes nothing', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let receiver: Receiver;
  const logLines: string[] = [];
  const logLength = () => client.xLen(hub.context.keys.eventLog);

  beforeAll(async () => {
    redis = await startRedis();
    receiver = await startReceiver();
    const config = parseConfig({
      dataDir: tempDir('switchboard-data-'),
      logLevel: 'info',
      keyPrefix: 'sbsec',
      http: { port: 0, requestTimeoutMs: 600, headersTimeoutMs: 600 },
      redis: { url: redis.url, commandTimeoutMs: 300 },
      auth: { apiToken: TEST_TOKEN, tokens: [{ name: 'reader', token: READER, roles: ['read'] }] },
      webhooks: { allowPrivateTargets: true, retryScheduleMs: [50], retryJitter: 0, throttleFloorMs: 0, errorAfterFailures: 1, batchLingerMs: 10, pollIntervalMs: 100, leaseTtlMs: 3000 },
    });
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        logLines.push(chunk.toString());
        callback();
      },
    });
    hub = await Hub.start(Object.freeze(config), { logger: pino({ level: 'info' }, sink) });
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('keeps distinct ids distinct: lone surrogates are refused, U+FFFD itself is an ordinary id', async () => {
    const before = await logLength();
    for (const id of ['cdr-\ud800', 'cdr-\udfff']) {
      const refused = await postEvents(hub.url, { ...cdrEvent(1), id });
      expect(refused.status, JSON.stringify(id)).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/id', message: expect.stringContaining('lone surrogate') }] });
    }
    // A lone surrogate anywhere (a data field, a key, inside a batch) is named with its index and path.
    const batch = [cdrEvent(2), { ...cdrEvent(3), data: { ...cdrEvent(3).data, campaign: 'x\udc00y' } }];
    const refusedBatch = await postEvents(hub.url, batch);
    expect(refusedBatch.status).toBe(400);
    expect((refusedBatch.body.error as { details: unknown[] }).details).toEqual([{ index: 1, path: '/data/campaign', message: expect.stringContaining('lone surrogate') }]);
    expect(await logLength()).toBe(before);

    const accepted = await postEvents(hub.url, { ...cdrEvent(4), id: 'cdr-\ufffd' });
    expect(accepted).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 0, ids: ['cdr-\ufffd'] } });
    // A valid surrogate pair (an emoji) is well-formed and kept as is.
    const emoji = await postEvents(hub.url, { ...cdrEvent(5), id: 'cdr-\ud83d\ude00' });
    expect(emoji).toMatchObject({ status: 202, body: { duplicates: 0, ids: ['cdr-😀'] } });
    expect(await logLength()).toBe(before + 2);
  });

  it('refuses bodies that are not UTF-8: invalid bytes, charset=utf-16', async () => {
    const before = await logLength();
    const valid = JSON.stringify({ ...cdrEvent(10), id: 'cdr-XX' });
    const invalidBytes = Buffer.from(valid.replace('XX', '\u0000\u0000'), 'utf8');
    // Replace the two NULs with a lone continuation byte and an overlong encoding.
    const at = invalidBytes.indexOf(0);
    invalidBytes[at] = 0x80;
    invalidBytes[at + 1] = 0xc0;
    const badBytes = await postRaw(hub.url, invalidBytes);
    expect(badBytes.status).toBe(400);
    expect(badBytes.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the body is not valid UTF-8' });

    const utf16 = await postRaw(hub.url, Buffer.from(JSON.stringify(cdrEvent(11)), 'utf16le'), 'application/json; charset=utf-16');
    expect(utf16.status).toBe(415);
    expect(utf16.body.error).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE', message: expect.stringContaining('utf-16') });

    const explicitUtf8 = await postRaw(hub.url, JSON.stringify(cdrEvent(12)), 'application/json; charset=UTF-8');
    expect(explicitUtf8.status).toBe(202);
    expect(await logLength()).toBe(before + 1);
  });

  it('bounds nesting depth with a 400, never a 500 (JSON.stringify recursion)', async () => {
    const before = await logLength();
    for (const levels of [401, 5000, 100_000]) {
      const deep = `{"type":"cdr.created","data":${'{"a":'.repeat(levels)}1${'}'.repeat(levels)}}`;
      const refused = await postRaw(hub.url, deep);
      expect(refused.status, String(levels)).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'VALIDATION_FAILED', message: 'the body nests deeper than 400 levels' });
    }
    // Brackets inside strings do not count.
    const inString = await postEvents(hub.url, { ...cdrEvent(20), data: { ...cdrEvent(20).data, campaign: '[{'.repeat(60) } });
    expect(inString.status).toBe(202);
    // Depth 400 exactly is accepted: the envelope is level 1, data level 2, data.custom level 3.
    const nested = `{"id":"deep-400","type":"cdr.created","data":${JSON.stringify(cdrEvent(21).data).slice(0, -1)},"custom":{"x":${'['.repeat(397)}${']'.repeat(397)}}}}`;
    expect((await postRaw(hub.url, nested)).status).toBe(202);
    expect(await logLength()).toBe(before + 2);
    const health = await fetch(`${hub.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('refuses hub-emitted event types at intake with a 403 naming the type', async () => {
    const before = await logLength();
    const forged = [
      { type: 'subscription.disabled', data: { subscription_id: 'abc', model: 'cdr', status: 'disabled' } },
      { type: 'cti.data_stored', data: { pool: 'p', dnis: '1', ani: '2', size_bytes: 3 } },
      { type: 'source.resynced', data: {} },
    ];
    for (const event of forged) {
      const refused = await postEvents(hub.url, event);
      expect(refused.status, event.type).toBe(403);
      expect(refused.body.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining(event.type), details: [{ index: 0, path: '/type' }] });
    }
    // Hidden inside a valid batch, the whole batch is refused and every forged item named.
    const batch = await postEvents(hub.url, [cdrEvent(30), forged[0], cdrEvent(31), forged[1]]);
    expect(batch.status).toBe(403);
    expect((batch.body.error as { details: { index: number }[] }).details.map((detail) => detail.index)).toEqual([1, 3]);
    expect(await logLength()).toBe(before);
  });

  it('validates replay stream ids fully (400, not 500)', async () => {
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'replayer' })).status).toBe(201);
    for (const since of ['1-99999999999999999999', '99999999999999999999-0', '18446744073709551616-0', '18446744073709551615-18446744073709551615']) {
      const refused = await api(hub.url, 'GET', `/v1/integrators/replayer/replay?since=${since}`);
      expect(refused.status, since).toBe(400);
      expect(refused.body.error).toMatchObject({ code: 'VALIDATION_FAILED', details: [{ path: '/since' }] });
    }
    const edge = await api(hub.url, 'GET', '/v1/integrators/replayer/replay?since=18446744073709551615-0');
    expect(edge).toMatchObject({ status: 200, body: { items: [], next: null } });
    expect((await api(hub.url, 'DELETE', '/v1/integrators/replayer')).status).toBe(204);
  });

  it('closes an authenticated request whose body never finishes (requestTimeoutMs) and one whose headers never finish', async () => {
    const before = await logLength();
    const { port } = new URL(hub.url);
    const hold = (payload: string) =>
      new Promise<{ reply: string; closedAfterMs: number }>((resolve, reject) => {
        const started = Date.now();
        const socket = connect(Number(port), '127.0.0.1', () => socket.write(payload));
        let reply = '';
        socket.on('data', (chunk) => (reply += chunk.toString()));
        socket.on('close', () => resolve({ reply, closedAfterMs: Date.now() - started }));
        socket.on('error', reject);
        setTimeout(() => reject(new Error('the server held the connection for 15 s')), 15_000).unref();
      });
    const body = JSON.stringify(cdrEvent(40));
    const slowBody = await hold(
      `POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    expect(slowBody.reply).toMatch(/^HTTP\/1\.1 408/);
    const slowHeaders = await hold('POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthor');
    expect(slowHeaders.reply).toMatch(/^HTTP\/1\.1 408/);
    expect(await logLength()).toBe(before);
  });

  it('lists every problem of a subscription request; refuses a past expiry and raw CR/LF in the post-url', async () => {
    const before = await client.keys('sbsec:{whsub}:*');
    const refused = await api(hub.url, 'POST', '/v1/subscriptions', {
      model: 'nope',
      'post-url': `${receiver.url}/a\r\nX-Injected: 1`,
      'subscription-expires-datetime': '2001-01-01 00:00:00',
      secret: 'not-a-secret',
      colour: 'blue',
    });
    expect(refused.status).toBe(400);
    const paths = (refused.body.error.details as { path: string }[]).map((detail) => detail.path).sort();
    expect(paths).toEqual(['/colour', '/model', '/post-url', '/secret', '/subscription-expires-datetime']);
    const byPath = Object.fromEntries((refused.body.error.details as { path: string; message: string }[]).map((detail) => [detail.path, detail.message]));
    expect(byPath['/post-url']).toContain('control characters');
    expect(byPath['/subscription-expires-datetime']).toContain('in the past');
    expect((await client.keys('sbsec:{whsub}:*')).sort()).toEqual(before.sort());

    const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiver.url });
    const id = created.body.id as string;
    const update = await api(hub.url, 'PUT', `/v1/subscriptions/${id}`, { 'post-url': 'http://a.example/\n', 'subscription-expires-datetime': '2000-01-01T00:00:00Z', 'posts-count': 3 });
    expect(update.status).toBe(400);
    expect((update.body.error.details as { path: string }[]).map((detail) => detail.path).sort()).toEqual(['/post-url', '/posts-count', '/subscription-expires-datetime']);
    const unchanged = await api(hub.url, 'GET', `/v1/subscriptions/${id}`);
    expect(unchanged.body['post-url']).toBe(receiver.url);
    expect((await api(hub.url, 'DELETE', `/v1/subscriptions/${id}`)).status).toBe(202);
  });

  it('redacts webhook post-url credentials in every answer, log line and event; delivery still uses them', async () => {
    const target = new URL(receiver.url);
    target.username = 'hookuser';
    target.password = 's3cret-pass';
    const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': target.href, domain: 'redact.example' });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    const redacted = created.body['post-url'] as string;
    expect(redacted).toBe(`http://***@127.0.0.1:${target.port}${target.pathname}`);
    for (const token of [READER, TEST_TOKEN]) {
      const one = await api(hub.url, 'GET', `/v1/subscriptions/${id}`, undefined, token);
      expect(one.body['post-url']).toBe(redacted);
      const all = await api(hub.url, 'GET', '/v1/subscriptions', undefined, token);
      expect(JSON.stringify(all.body)).not.toContain('s3cret-pass');
      expect(JSON.stringify(all.body)).not.toContain('hookuser');
    }
    // Echoing the redacted answer back keeps the stored credentials.
    const echoed = await api(hub.url, 'PUT', `/v1/subscriptions/${id}`, { ...one(created.body), 'post-url': redacted });
    expect(echoed.status).toBe(202);

    await waitFor(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'] !== '', 10_000, 'an owner');
    receiver.reply = () => ({ status: 500 });
    await waitFor(async () => {
      await postEvents(hub.url, { ...cdrEvent(50 + Math.floor(Math.random() * 1e6)), id: undefined, scope: { domain: 'redact.example' } });
      return receiver.received.some((post) => post.headers.authorization === `Basic ${Buffer.from('hookuser:s3cret-pass').toString('base64')}`);
    }, 15_000, 'a delivery with the credentials');
    await waitFor(async () => ((await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? []).some((entry) => entry.message?.type === 'subscription.error'), 15_000, 'subscription.error');
    receiver.reply = () => ({ status: 200 });
    const events = (await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? [];
    const operational = events.filter((entry) => entry.message?.type?.startsWith('subscription.'));
    expect(operational.length).toBeGreaterThan(0);
    expect(JSON.stringify(operational)).not.toContain('s3cret-pass');
    expect(logLines.join('')).not.toContain('s3cret-pass');
    expect((await api(hub.url, 'DELETE', `/v1/subscriptions/${id}`)).status).toBe(202);
  });

  it('classifies IPv6 forms that carry loopback/private IPv4 addresses with ipaddr.js', async () => {
    for (const address of ['::7f00:1', '::ffff:0:7f00:1', '2002:7f00:1::', '::ffff:7f00:1', '64:ff9b::a00:1', '2002:a00:1::1', '::a00:1', '2001::1', '4000::1', 'fec0::1']) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of ['8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8', '2002:808:808::1', '64:ff9b::808:808']) {
      expect(addressRefusal(address), address).toBeUndefined();
    }
    expect(addressRefusal('2002:7f00:1::')).toBe('6to4 form of 127.0.0.1, a loopback address');
    const policy = new TargetPolicy(false);
    for (const host of ['[::7f00:1]', '[::ffff:0:7f00:1]', '[2002:7f00:1::]']) {
      await expect(policy.validate(`http://${host}:8080/hook`), host).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });
});

/** The writable fields of a subscription answer, as a client would echo them on PUT. */
function one(body: Record<string, unknown>): Record<string, unknown> {
  const { model, domain } = body;
  return { model, domain };
}

describe('attacks: tenant-scoped integrators', () => {
  const ACME_ADMIN = 'acme-admin-token-0123456789';
  const ACME_READ = 'acme-read-token-0123456789';
  const ACME_INGEST = 'acme-ingest-token-0123456789';
  const GLOBEX_ADMIN = 'globex-admin-token-0123456789';
  let redis: TestRedis;
  let hub: Hub;
  let client: Awaited<ReturnType<typeof connectClient>>;
  const keys = () => hub.context.keys;
  const registry = async () => client.hGetAll(keys().integrators);
  const tenantOf = (fields: Record<string, string> | null) => (JSON.parse(fields?.event ?? '{}') as { scope?: { domain?: string } }).scope?.domain;
  const cdr = (n: number, domain?: string) => ({ ...cdrEvent(n), ...(domain ? { scope: { domain } } : {}) });

  beforeAll(async () => {
    redis = await startRedis();
    const acme = { domain: 'acme.example' };
    hub = await startHub(redis.url, {
      keyPrefix: 'sbtenant',
      auth: {
        tokens: [
          { name: 'acme-admin', token: ACME_ADMIN, roles: ['admin', 'read'], scope: acme },
          { name: 'acme-read', token: ACME_READ, roles: ['read'], scope: acme },
          { name: 'acme-ingest', token: ACME_INGEST, roles: ['ingest'], scope: acme },
          { name: 'globex-admin', token: GLOBEX_ADMIN, roles: ['admin', 'read'], scope: { domain: 'globex.example' } },
        ],
      },
    });
    client = await connectClient(redis.url);
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'global-crm' })).status).toBe(201);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('a scoped token registers only inside its tenant: never a global integrator, never another tenant\'s', async () => {
    const before = await registry();
    const foreign = await api(hub.url, 'POST', '/v1/integrators', { name: 'sneaky', scope: { domain: 'globex.example' } }, ACME_ADMIN);
    expect(foreign.status).toBe(403);
    expect(foreign.body.error).toMatchObject({ code: 'FORBIDDEN', details: [{ path: '/scope/domain', message: expect.stringContaining('acme.example') }] });
    expect(await registry()).toEqual(before);

    // Without a scope in the body, the token's own scope is imposed: no global integrator.
    const created = await api(hub.url, 'POST', '/v1/integrators', { name: 'acme-crm', legacyList: true, stream: true }, ACME_ADMIN);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'acme-crm',
      scope: { domain: 'acme.example' },
      stream: 'sbtenant:{log}:cdr:acme-crm',
      group: 'acme-crm',
      list: 'sbtenant:{log}:list:acme-crm',
    });
    // Its keys stay in the {log} slot (the append script writes them with the log, on Cluster too).
    for (const key of [created.body.stream, created.body.list, created.body.deadLetter] as string[]) expect(key.match(/\{[^}]*\}/)?.[0]).toBe('{log}');
    expect(await client.xInfoGroups(created.body.stream as string)).toMatchObject([{ name: 'acme-crm' }]);
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'globex-crm' }, GLOBEX_ADMIN)).status).toBe(201);
  });

  it('a scoped token sees, reads, replays and deletes nothing outside its tenant (404, nothing revealed or changed)', async () => {
    await postEvents(hub.url, [cdr(1, 'globex.example'), cdr(2, 'acme.example'), cdr(3)]);
    const pendingBefore = await client.xPending(keys().cdrStream, 'global-crm');
    const before = await registry();

    const listed = await api(hub.url, 'GET', '/v1/integrators', undefined, ACME_READ);
    expect(listed.body.integrators.map((one: { name: string }) => one.name)).toEqual(['acme-crm']);
    for (const name of ['global-crm', 'globex-crm', 'no-such-one']) {
      const answers = [
        await api(hub.url, 'GET', `/v1/integrators/${name}`, undefined, ACME_READ),
        await api(hub.url, 'GET', `/v1/integrators/${name}/replay?since=0-0`, undefined, ACME_READ),
        await api(hub.url, 'DELETE', `/v1/integrators/${name}`, undefined, ACME_ADMIN),
      ];
      // Existing or not, the answers are the same: existence is not revealed.
      for (const answer of answers) expect(answer, name).toMatchObject({ status: 404, body: { error: { code: 'NOT_FOUND', message: `no integrator "${name}"` } } });
    }
    const globex = await api(hub.url, 'GET', '/v1/integrators', undefined, GLOBEX_ADMIN);
    expect(globex.body.integrators.map((one: { name: string }) => one.name)).toEqual(['globex-crm']);
    expect((await api(hub.url, 'DELETE', '/v1/integrators/acme-crm', undefined, GLOBEX_ADMIN)).status).toBe(404);

    expect(await registry()).toEqual(before);
    expect(await client.xPending(keys().cdrStream, 'global-crm')).toEqual(pendingBefore);
    // The unscoped token still sees all three.
    const all = await api(hub.url, 'GET', '/v1/integrators');
    expect(all.body.integrators.map((one: { name: string }) => one.name)).toEqual(['acme-crm', 'global-crm', 'globex-crm']);
  });

  it('a scoped integrator receives only its tenant\'s CDRs, on its own stream and list, in order', async () => {
    const startLength = await client.xLen(keys().integratorScopedStream('acme-crm'));
    const batch = [cdr(10, 'acme.example'), cdr(11, 'globex.example'), cdr(12), cdr(13, 'acme.example'), { ...cdr(14), scope: { reseller: 'r1', domain: 'acme.example' } }];
    expect((await postEvents(hub.url, batch)).status).toBe(202);
    // The tenant-limited ingest token's events carry its tenant.
    expect((await postEvents(hub.url, cdr(15), ACME_INGEST)).status).toBe(202);

    const own = ((await client.xRange(keys().integratorScopedStream('acme-crm'), '-', '+')) ?? []).slice(startLength);
    expect(own.map((entry) => entry.message.id)).toEqual(['cdr-10', 'cdr-13', 'cdr-14', 'cdr-15']);
    expect(new Set(own.map((entry) => tenantOf(entry.message)))).toEqual(new Set(['acme.example']));
    const globexOwn = (await client.xRange(keys().integratorScopedStream('globex-crm'), '-', '+')) ?? [];
    expect(globexOwn.map((entry) => entry.message.id)).toEqual(['cdr-1', 'cdr-11']);
    const list = await client.lRange(keys().integratorList('acme-crm'), 0, -1);
    expect(list.map((message) => (JSON.parse(message) as { payload: { call_ref: string } }).payload.call_ref).reverse()).toEqual(['call-2', 'call-10', 'call-13', 'call-14', 'call-15']);
    // The shared stream still has every tenant's CDRs for the global integrator.
    const shared = (await client.xRange(keys().cdrStream, '-', '+')) ?? [];
    expect(shared.map((entry) => entry.message.id)).toEqual(['cdr-1', 'cdr-2', 'cdr-3', 'cdr-10', 'cdr-11', 'cdr-12', 'cdr-13', 'cdr-14', 'cdr-15']);

    const replay = await api(hub.url, 'GET', '/v1/integrators/acme-crm/replay?since=0-0', undefined, ACME_READ);
    expect(replay.status).toBe(200);
    expect(replay.body.items.map((item: { id: string }) => item.id)).toEqual(['cdr-2', 'cdr-10', 'cdr-13', 'cdr-14', 'cdr-15']);

    // The integrator's own worker (the client package) reads its stream and acknowledges.
    const { consumeCdrs } = await import('@switchboard/client');
    const seen: string[] = [];
    const abort = new AbortController();
    const loop = consumeCdrs({ url: redis.url, keyPrefix: 'sbtenant', integrator: 'acme-crm', consumer: 'w1', blockMs: 100, signal: abort.signal, handler: (one) => void seen.push(one.id) });
    await waitFor(() => seen.length >= 5, 10_000, 'the scoped integrator\'s CDRs');
    abort.abort();
    await loop;
    expect(seen).toEqual(['cdr-2', 'cdr-10', 'cdr-13', 'cdr-14', 'cdr-15']);
    expect((await client.xPending(keys().integratorScopedStream('acme-crm'), 'acme-crm')).pending).toBe(0);
  });

  it('deleting a scoped integrator removes its own stream and list, and nothing of the others', async () => {
    const sharedLength = await client.xLen(keys().cdrStream);
    expect((await api(hub.url, 'DELETE', '/v1/integrators/acme-crm', undefined, ACME_ADMIN)).status).toBe(204);
    expect(await client.exists([keys().integratorScopedStream('acme-crm'), keys().integratorList('acme-crm')])).toBe(0);
    expect(await client.xLen(keys().cdrStream)).toBe(sharedLength);
    expect(Object.keys(await registry()).sort()).toEqual(['global-crm', 'globex-crm']);
    // Events for its tenant no longer go anywhere of its.
    await postEvents(hub.url, cdr(20, 'acme.example'));
    expect(await client.exists(keys().integratorScopedStream('acme-crm'))).toBe(0);
  });
});
