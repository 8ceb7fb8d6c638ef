import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const BASIC = `Basic ${Buffer.from('username:password').toString('base64')}`;
const BEARER = `Bearer ${TEST_TOKEN}`;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

/**
 * One request with exactly these headers, as curl sends it: `curl -X DELETE -H 'Content-Type:
 * application/json' URL` has a content type and neither a body nor a Content-Length.
 */
function send(url: string, method: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const length = body === undefined || headers['transfer-encoding'] !== undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) };
    const request = httpRequest(url, { method, headers: { ...length, ...headers }, agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}
const json = (answer: Answer) => JSON.parse(answer.text) as Record<string, unknown> & { error?: { code: string } };

describe('an empty body is no body, whatever its content type', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;

  const store = async (ani: string) => {
    const answer = await send(`${hub.url}/cticache/DNIS-ANI`, 'POST', { authorization: BASIC, 'content-type': 'application/json' }, JSON.stringify({ value: { crm: ani }, ani }));
    expect(answer.status).toBe(201);
    return `${(json(answer) as { dnis: string }).dnis}:${ani}`;
  };

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      cti: { users: [{ username: 'username', password: 'password' }], defaultPool: 'seed', pools: { seed: ['5551234500-5551234599'] } },
      webhooks: { allowPrivateTargets: true, leaseTtlMs: 3000 },
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  for (const [label, headers] of [
    ['Content-Type: application/json and no Content-Length (curl -X DELETE -H)', { 'content-type': 'application/json' }],
    ['Content-Type: application/json and Content-Length: 0', { 'content-type': 'application/json', 'content-length': '0' }],
    ['Content-Type: text/plain and Content-Length: 0', { 'content-type': 'text/plain', 'content-length': '0' }],
    ['Content-Type: application/x-www-form-urlencoded and Content-Length: 0', { 'content-type': 'application/x-www-form-urlencoded', 'content-length': '0' }],
    ['Content-Type: application/json and an empty chunked body (Transfer-Encoding: chunked, then 0 CRLF CRLF)', { 'content-type': 'application/json', 'transfer-encoding': 'chunked' }],
    ['Content-Type: application/x-www-form-urlencoded and an empty chunked body', { 'content-type': 'application/x-www-form-urlencoded', 'transfer-encoding': 'chunked' }],
  ] as const) {
    it(`CTI DELETE deletes with ${label}`, async () => {
      const key = await store('1234567890');
      const deleted = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC, ...headers });
      expect(deleted.status).toBe(200);
      expect(json(deleted)).toEqual({ value: { crm: '1234567890' } });
      const after = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC });
      expect(after.status).toBe(404);
    });

    it(`CTI GET answers with ${label}`, async () => {
      const key = await store('2234567890');
      const fetched = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC, ...headers });
      expect(fetched.status).toBe(200);
      expect(json(fetched)).toEqual({ value: { crm: '2234567890' } });
      await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC });
    });

    it(`DELETE /v1/subscriptions/{id} and POST …/redrive answer with ${label}`, async () => {
      const created = await send(`${hub.url}/v1/subscriptions`, 'POST', { authorization: BEARER, 'content-type': 'application/json' }, JSON.stringify({ model: 'agent', 'post-url': `${receiver.url}?h=${encodeURIComponent(label)}` }));
      expect(created.status).toBe(200);
      const id = json(created).id as string;
      const redrive = await send(`${hub.url}/v1/subscriptions/${id}/redrive`, 'POST', { authorization: BEARER, ...headers });
      expect(redrive.status).toBe(202);
      expect(json(redrive)).toEqual({ id, batches: 0 });
      const deleted = await send(`${hub.url}/v1/subscriptions/${id}`, 'DELETE', { authorization: BEARER, ...headers });
      expect(deleted.status).toBe(202);
      expect((await send(`${hub.url}/v1/subscriptions/${id}`, 'GET', { authorization: BEARER, ...headers })).status).toBe(404);
    });
  }

  it('a route that takes a body still refuses an empty one, precisely', async () => {
    const answer = await send(`${hub.url}/v1/events`, 'POST', { authorization: BEARER, 'content-type': 'application/json', 'content-length': '0' });
    expect(answer.status).toBe(400);
    expect(json(answer).error?.code).toBe('MALFORMED_JSON');
  });

  it('a non-empty body of an unknown type on a bodiless route is still 415', async () => {
    const key = await store('3234567890');
    const answer = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1');
    expect(answer.status).toBe(415);
    expect((await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC })).status).toBe(200);
  });

  it('a chunked, non-empty body on a bodiless route is still parsed (and refused when malformed)', async () => {
    const key = await store('5234567890');
    const answer = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, '{"not json');
    expect(answer.status).toBe(400);
    expect(json(answer).error?.code).toBe('MALFORMED_JSON');
    expect((await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC })).status).toBe(200);
    const deleted = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC, 'content-type': 'application/json', 'transfer-encoding': 'chunked' }, '{}');
    expect(deleted.status).toBe(200);
  });

  it("a body that stops arriving is the client's delay: 408 REQUEST_TIMEOUT, not 503, and nothing is created", async () => {
    const socket = connect(Number(new URL(hub.url).port), '127.0.0.1');
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const closed = once(socket, 'close');
    const promised = JSON.stringify({ model: 'agent', 'post-url': `${receiver.url}?late` });
    socket.write(`POST /v1/subscriptions HTTP/1.1\r\nHost: x\r\nAuthorization: ${BEARER}\r\nContent-Type: application/json\r\nContent-Length: ${promised.length}\r\n\r\n${promised.slice(0, 10)}`);
    await closed;
    expect(text.split('\r\n')[0]).toBe('HTTP/1.1 408 Request Timeout');
    expect(text.toLowerCase()).toContain('connection: close');
    const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('REQUEST_TIMEOUT');
    expect(body.error.message).toBe('the request body did not arrive within 2000 ms');
    const list = await send(`${hub.url}/v1/subscriptions`, 'GET', { authorization: BEARER });
    expect((JSON.parse(list.text) as { 'post-url': string }[]).filter((sub) => sub['post-url'].endsWith('?late'))).toEqual([]);
  });

  it('CTI GET carries an ETag (as the Express original does) and answers 304 to If-None-Match', async () => {
    const key = await store('4234567890');
    const first = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC });
    expect(first.status).toBe(200);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^W\/"[0-9a-f]+-[A-Za-z0-9+/]{27}"$/);
    expect(etag.startsWith(`W/"${Buffer.byteLength(first.text).toString(16)}-`)).toBe(true);
    const again = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC });
    expect(again.headers.etag).toBe(etag);
    const notModified = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC, 'if-none-match': etag });
    expect(notModified.status).toBe(304);
    expect(notModified.text).toBe('');
    const stale = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'GET', { authorization: BASIC, 'if-none-match': 'W/"1-abc"' });
    expect(stale.status).toBe(200);
    const deleted = await send(`${hub.url}/cticache/DNIS-ANI/${key}`, 'DELETE', { authorization: BASIC });
    expect(deleted.status).toBe(200);
    expect(deleted.headers.etag).toBeUndefined();
  });
});
