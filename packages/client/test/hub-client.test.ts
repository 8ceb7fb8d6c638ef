import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HubClient, HubError, HubUnreachableError } from '../src/index.js';
import { freePort } from '../../../test/helpers/redis.js';

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

describe('HubClient against a real HTTP server', () => {
  let server: Server;
  let url: string;
  const seen: Seen[] = [];

  beforeAll(async () => {
    server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        seen.push({ method: request.method ?? '', url: request.url ?? '', headers: request.headers, body });
        response.setHeader('content-type', 'application/json');
        if (request.url === '/v1/events') {
          response.statusCode = 202;
          return response.end(JSON.stringify({ accepted: 1, duplicates: 0, ids: ['e1'] }));
        }
        if (request.url === '/v1/bad') {
          response.statusCode = 400;
          return response.end(
            JSON.stringify({ error: { code: 'VALIDATION_FAILED', message: 'the batch was rejected: 1 problem', details: [{ index: 0, path: '/data/agnet', message: 'unknown field' }] } }),
          );
        }
        if (request.url === '/v1/html') {
          response.setHeader('content-type', 'text/html');
          return response.end('<html>proxy</html>');
        }
        response.statusCode = 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('posts events with the bearer token and JSON body, and returns the answer', async () => {
    const hub = new HubClient({ url, token: 'tok-123' });
    const answer = await hub.sendEvents({ type: 'agent.status_changed', data: { agent: '1002', status: 'available' } });
    expect(answer).toEqual({ accepted: 1, duplicates: 0, ids: ['e1'] });
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'POST', url: '/v1/events' });
    expect(request.headers.authorization).toBe('Bearer tok-123');
    expect(request.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request.body)).toEqual({ type: 'agent.status_changed', data: { agent: '1002', status: 'available' } });
  });

  it('sends no body and no content type on a bodiless call', async () => {
    const answer = await new HubClient({ url }).request('DELETE', '/v1/subscriptions/s1');
    expect(answer).toBeUndefined();
    const request = seen.at(-1)!;
    expect(request).toMatchObject({ method: 'DELETE', url: '/v1/subscriptions/s1', body: '' });
    expect(request.headers['content-type']).toBeUndefined();
    expect(request.headers.authorization).toBeUndefined();
  });

  it("turns the hub's error answer into a HubError with code, status and details", async () => {
    const failure = await new HubClient({ url }).request('POST', '/v1/bad', {}).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HubError);
    expect(failure).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', message: 'the batch was rejected: 1 problem', details: [{ index: 0, path: '/data/agnet', message: 'unknown field' }] });
  });

  it('says so when the answer is not JSON', async () => {
    const failure = await new HubClient({ url }).request('GET', '/v1/html').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HubError);
    expect((failure as HubError).code).toBe('NOT_JSON');
  });

  it('names the URL (without credentials) when nothing listens there', async () => {
    const port = await freePort();
    const failure = await new HubClient({ url: `http://user:secret@127.0.0.1:${port}` }).request('GET', '/readyz').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(HubUnreachableError);
    expect((failure as Error).message).toBe(`cannot reach http://127.0.0.1:${port}: is the hub running?`);
    expect((failure as HubUnreachableError).code).toBe('HUB_UNREACHABLE');
    expect((failure as Error).cause).toBeInstanceOf(Error);
  });
});
