import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { openStream, type SseConnection } from './helpers/sse.js';
import { waitFor } from './helpers/wait.js';

const ACME = 'acme-reader-token-0123456789';
const GLOBEX = 'globex-reader-token-0123456789';
const ACME_INGEST = 'acme-ingest-token-0123456789';

const status = (n: number, extra: Record<string, unknown> = {}) => ({
  id: `st-${n}`,
  type: 'agent.status_changed',
  data: { agent: String(1000 + (n % 50)), status: n % 2 ? 'available' : 'busy' },
  ...extra,
});

describe('GET /v1/stream (Server-Sent Events of the event log)', () => {
  let redis: TestRedis;
  let hub: Hub;
  const open: SseConnection[] = [];
  const stream = async (...args: Parameters<typeof openStream>) => {
    const connection = await openStream(...args);
    open.push(connection);
    return connection;
  };

  /** The log's head, as the live answers report it (they answer once the projection has caught up). */
  const logHead = async () => {
    let position: string | undefined;
    await waitFor(async () => {
      const answer = await api(hub.url, 'GET', '/v1/live/agents');
      position = answer.status === 200 ? (answer.body.position as string) : undefined;
      return position !== undefined;
    });
    return position as string;
  };

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, {
      stream: { heartbeatMs: 300, clientBufferBytes: 65_536 },
      auth: {
        tokens: [
          { name: 'acme-read', token: ACME, roles: ['read'], scope: { domain: 'acme.example' } },
          { name: 'globex-read', token: GLOBEX, roles: ['read'], scope: { domain: 'globex.example' } },
          { name: 'acme-ingest', token: ACME_INGEST, roles: ['ingest'], scope: { domain: 'acme.example' } },
        ],
      },
    });
  });
  afterAll(async () => {
    for (const connection of open) connection.close();
    await hub?.close();
    await redis?.close();
  });

  it('resumes exactly after Last-Event-ID: read 40, reconnect after the 25th, get 26.. onwards', async () => {
    const first = await stream(hub.url);
    expect(first.status).toBe(200);
    expect((await postEvents(hub.url, Array.from({ length: 40 }, (_, i) => status(i + 1)))).status).toBe(202);
    await first.waitFor(() => first.events().length >= 40, 20_000, '40 events');
    const received = first.events();
    expect(received.map((message) => JSON.parse(message.data).id)).toEqual(Array.from({ length: 40 }, (_, i) => `st-${i + 1}`));
    expect(received.every((message) => message.event === 'agent.status_changed')).toBe(true);
    const decoded = JSON.parse(received[0]?.data ?? '');
    expect(decoded).toMatchObject({ id: 'st-1', type: 'agent.status_changed', data: { agent: '1001', status: 'available' } });
    expect(typeof decoded.time).toBe('string');
    first.close();

    const twentyFifth = received[24]?.id as string;
    const resumed = await stream(hub.url, { lastEventId: twentyFifth });
    expect((await postEvents(hub.url, Array.from({ length: 5 }, (_, i) => status(41 + i)))).status).toBe(202);
    // A last event as a fence: once it is here, nothing accepted before it is still on its way.
    expect((await postEvents(hub.url, [status(46)])).status).toBe(202);
    const fenced = (connection: SseConnection) => connection.events().some((message) => JSON.parse(message.data).id === 'st-46');
    await resumed.waitFor(() => fenced(resumed), 20_000, 'events 26..46');
    const ids = resumed.events().map((message) => JSON.parse(message.data).id);
    expect(ids).toEqual(Array.from({ length: 21 }, (_, i) => `st-${26 + i}`));
    // Positions are the same on both connections and strictly increasing.
    expect(resumed.events().slice(0, 15).map((message) => message.id)).toEqual(received.slice(25).map((message) => message.id));

    // ?after= does the same.
    const byQuery = await stream(hub.url, { query: { after: twentyFifth } });
    await byQuery.waitFor(() => fenced(byQuery), 20_000, 'events by ?after=');
    expect(byQuery.events().map((message) => JSON.parse(message.data).id)).toEqual(ids);
  });

  it('filters by ?types= (families too) and ?scope=', async () => {
    const position = await logHead();
    const calls = await stream(hub.url, { query: { after: position, types: 'call.*,cdr.created' } });
    const acmeOnly = await stream(hub.url, { query: { after: position, scope: 'domain:acme.example' } });
    const user = await stream(hub.url, { query: { after: position, scope: 'domain:acme.example,user:2002' } });
    const events = [
      status(100),
      { id: 'q-1', type: 'call.queued', scope: { domain: 'acme.example' }, data: { call_id: 'c1', queue: 'sales' } },
      { id: 'o-1', type: 'call.offered', scope: { domain: 'acme.example' }, data: { call_id: 'c1', agent: '2002', queue: 'sales' } },
      { id: 's-1', type: 'agent.status_changed', scope: { domain: 'globex.example' }, data: { agent: '2002', status: 'busy' } },
      { id: 's-2', type: 'agent.status_changed', scope: { domain: 'acme.example' }, data: { agent: '2003', status: 'busy' } },
    ];
    expect((await postEvents(hub.url, events)).status).toBe(202);
    // A fence every filter lets through: once it is here, whatever else was due is too.
    const fence = { id: 'o-2', type: 'call.offered', scope: { domain: 'acme.example' }, data: { call_id: 'c2', agent: '2002', queue: 'sales' } };
    expect((await postEvents(hub.url, [fence])).status).toBe(202);
    for (const connection of [calls, acmeOnly, user]) {
      await connection.waitFor(() => connection.events().some((message) => JSON.parse(message.data).id === 'o-2'), 20_000, 'the fence event');
    }
    expect(calls.events().map((message) => message.event)).toEqual(['call.queued', 'call.offered', 'call.offered']);
    expect(acmeOnly.events().map((message) => JSON.parse(message.data).id)).toEqual(['q-1', 'o-1', 's-2', 'o-2']);
    expect(user.events().map((message) => JSON.parse(message.data).id)).toEqual(['o-1', 'o-2']);
  });

  it('shows a tenant-scoped token only its own tenant, whatever it asks for', async () => {
    const position = await logHead();
    const acme = await stream(hub.url, { token: ACME, query: { after: position } });
    const globex = await stream(hub.url, { token: GLOBEX, query: { after: position } });
    const asksOther = await openStream(hub.url, { token: ACME, query: { scope: 'domain:globex.example' } });
    expect(asksOther.status).toBe(403);
    const wrongType = await openStream(hub.url, { query: { types: 'call.nonsense' } });
    expect(wrongType.status).toBe(400);
    const badPosition = await openStream(hub.url, { query: { after: 'yesterday' } });
    expect(badPosition.status).toBe(400);
    const noToken = await fetch(`${hub.url}/v1/stream`);
    expect(noToken.status).toBe(401);

    expect((await postEvents(hub.url, [status(200), { ...status(201), scope: { domain: 'globex.example' } }])).status).toBe(202);
    // A tenant token's own events get its scope at intake.
    expect((await postEvents(hub.url, [status(202)], ACME_INGEST)).status).toBe(202);
    expect((await postEvents(hub.url, [{ ...status(203), scope: { domain: 'acme.example' } }])).status).toBe(202);
    // One fence per tenant: once each is here, whatever else its tenant may see is too.
    expect((await postEvents(hub.url, [{ ...status(204), scope: { domain: 'acme.example' } }, { ...status(205), scope: { domain: 'globex.example' } }])).status).toBe(202);
    const idsOf = (connection: SseConnection) => connection.events().map((message) => JSON.parse(message.data).id as string);
    await acme.waitFor(() => idsOf(acme).includes('st-204'), 20_000, 'the acme fence');
    await globex.waitFor(() => idsOf(globex).includes('st-205'), 20_000, 'the globex fence');
    expect(idsOf(acme)).toEqual(['st-202', 'st-203', 'st-204']);
    expect(idsOf(globex)).toEqual(['st-201', 'st-205']);
  });

  it('sends heartbeat comments, and an id-only line once filtered-out entries moved the position on', async () => {
    const position = await logHead();
    const quiet = await stream(hub.url, { query: { after: position, types: 'campaign.status_changed' } });
    expect((await postEvents(hub.url, [status(300), status(301)])).status).toBe(202);
    await quiet.waitFor(() => (quiet.raw().match(/: heartbeat/g) ?? []).length >= 2, 10_000, 'two heartbeats');
    expect(quiet.events()).toEqual([]);
    const head = await logHead();
    await quiet.waitFor(() => quiet.lastEventId() === head, 10_000, 'the heartbeat to carry the position');
  });

  it('disconnects a client that does not read, bounded, with a reason; it resumes with no gap or repeat', async () => {
    const position = await logHead();
    // A raw socket that sends the request and then does not read.
    const socket = connect(Number(new URL(hub.url).port), '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString('utf8')));
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(`GET /v1/stream?after=${position}&types=campaign.dial_preview HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nAccept: text/event-stream\r\n\r\n`);
    await waitFor(() => received.includes('200 OK'), 10_000, 'the stream to open');
    socket.pause();
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));

    // 300 KB events: the kernel's socket buffers fill, then the hub's own buffer passes its cap.
    const callees = Array.from({ length: 5000 }, (_, i) => ({ number: `+2721${String(i).padStart(7, '0')}`, contact_ref: `contact-${i}` }));
    const total = 40;
    for (let i = 0; i < total; i += 1) {
      expect((await postEvents(hub.url, { id: `preview-${i}`, type: 'campaign.dial_preview', data: { campaign: 'big', callees } })).status).toBe(202);
    }
    const metric = async () => (await (await fetch(`${hub.url}/metrics`)).text()).match(/switchboard_stream_disconnects_total\{reason="slow_client"\} (\d+)/)?.[1];
    await waitFor(async () => (await metric()) === '1', 30_000, 'the slow client to be disconnected');
    socket.resume();
    // The connection closes too, not kept alive for another request.
    await Promise.race([closed, new Promise((_, reject) => setTimeout(() => reject(new Error('the hub kept the connection open')), 15_000))]);

    // What the client did receive, then a resume from its last complete event.
    const frames = received.split('\n\n').filter((frame) => frame.includes('\nevent: campaign.dial_preview\n') || frame.startsWith('id: '));
    const complete = [...received.matchAll(/id: (\S+)\nevent: campaign\.dial_preview\ndata: (\{.*?\})\n\n/g)].map((match) => ({ id: match[1] as string, eventId: JSON.parse(match[2] as string).id as string }));
    expect(frames.length).toBeGreaterThan(0);
    expect(complete.length).toBeLessThan(total);
    const resumeAfter = complete.at(-1)?.id ?? position;
    const resumed = await stream(hub.url, { lastEventId: resumeAfter, query: { types: 'campaign.dial_preview' } });
    await resumed.waitFor(() => resumed.events().length >= total - complete.length, 30_000, 'the rest of the previews');
    const all = [...complete.map((entry) => entry.eventId), ...resumed.events().map((message) => JSON.parse(message.data).id as string)];
    expect(all).toEqual(Array.from({ length: total }, (_, i) => `preview-${i}`));
    resumed.close();
  });

  it('says so when the resume position was trimmed from the log', async () => {
    const position = await logHead();
    expect((await postEvents(hub.url, [status(400), status(401), status(402)])).status).toBe(202);
    const client = await connectClient(redis.url);
    await client.xTrim(hub.context.keys.eventLog, 'MAXLEN', 2);
    await client.quit();
    const gap = await stream(hub.url, { lastEventId: position });
    await gap.waitFor(() => gap.events().length >= 2);
    const notice = gap.messages.find((message) => message.event === 'stream.gap');
    expect(notice && JSON.parse(notice.data)).toMatchObject({ after: position });
    expect(gap.events().map((message) => JSON.parse(message.data).id)).toEqual(['st-401', 'st-402']);
  });
});
