import type { FastifyPluginAsync } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { StreamConfig } from '../config/schema.js';
import { NotFoundError, StreamFullError, ValidationError } from '../errors.js';
import type { LogFeed } from '../log/feed.js';
import { comparePositions, isPosition, LOG_START, type LogReader } from '../log/reader.js';
import { ErrorResponse } from '../server/schemas.js';
import { EventFilter } from './filter.js';
import { SseClient, type CloseReason } from './sse-client.js';
import type { StreamMetrics } from './metrics.js';

export interface StreamRoutesOptions {
  feed: LogFeed;
  log: LogReader;
  config: StreamConfig;
  metrics: StreamMetrics;
}

/** How far back GET /v1/events/:id looks for an event (entries of the log, newest first). */
const FIND_SCAN_ENTRIES = 200_000;

const EventParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }) });

const StreamQuery = Type.Object(
  {
    after: Type.Optional(Type.String({ description: 'Log position to resume after (the `id:` of the last event received); `Last-Event-ID` wins when both are given. Default: only new events.' })),
    types: Type.Optional(Type.String({ description: 'Comma-separated event types; `call.*` takes a family' })),
    scope: Type.Optional(Type.String({ description: 'Tenant filter: `reseller:r1,domain:acme.example,user:1002` (any of the three)' })),
  },
  { additionalProperties: false },
);

/**
 * GET /v1/stream: the event log as Server-Sent Events (docs/live.md). One LogFeed serves every
 * client; each client catches up from its resume position on its own, then joins the live feed.
 */
export const streamRoutes: FastifyPluginAsync<StreamRoutesOptions> = async (app, { feed, log, config, metrics }) => {
  const clients = new Set<SseClient>();

  // Open streams would keep the server from closing: end them first, each with a resumable reason.
  app.addHook('preClose', async () => {
    for (const client of [...clients]) client.close('shutting_down');
  });

  app.get<{ Querystring: Static<typeof StreamQuery> }>(
    '/v1/stream',
    {
      config: { role: 'read' },
      schema: {
        summary: 'The event log as Server-Sent Events: id = log position, event = type, data = the event JSON',
        description:
          'Resume exactly with `Last-Event-ID` or `?after=`. Heartbeat comments every `stream.heartbeatMs`. A client that does not read is disconnected once `stream.clientBufferBytes` are held for it, after a `stream.closed` message naming the position to resume after.',
        tags: ['stream'],
        security: [{ bearer: [] }],
        querystring: StreamQuery,
        response: { '4xx': ErrorResponse, 503: ErrorResponse },
      },
    },
    async (request, reply) => {
      const filter = EventFilter.parse(request.query, request.principal);
      const lastEventId = request.headers['last-event-id'];
      const requested = (Array.isArray(lastEventId) ? lastEventId[0] : lastEventId) ?? request.query.after;
      if (requested !== undefined && !isPosition(requested)) {
        const path = lastEventId === undefined ? '/after' : 'Last-Event-ID';
        throw new ValidationError(`${path} must be a log position such as 1764689000000-0 (the id: of an event)`, {
          details: [{ path, message: `cannot read "${requested}" as a log position` }],
        });
      }
      if (clients.size >= config.maxClients) throw new StreamFullError(`this hub already serves ${config.maxClients} streams (stream.maxClients)`);
      // Without a resume position: from the log's end now.
      const after = requested ?? feed.position ?? (await log.head());
      const oldest = requested === undefined || requested === LOG_START ? undefined : await log.oldest();

      reply.hijack();
      // No chunked encoding: the stream ends only when its connection closes, and chunking would
      // make every write four socket writes (size, CRLF, data, CRLF), each held, and failed one by
      // one with its own error object when a slow client is cut (src/stream/sse-client.ts).
      reply.raw.useChunkedEncodingByDefault = false;
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'close',
        'x-accel-buffering': 'no',
      });
      // The resume position as the first id: a client that gets no event before it reconnects keeps its place.
      reply.raw.write(`retry: ${config.retryMs}\nid: ${after}\n\n`);
      metrics.clients.inc();
      const client: SseClient = new SseClient(reply.raw, {
        filter,
        after,
        bufferLimitBytes: config.clientBufferBytes,
        heartbeatMs: config.heartbeatMs,
        onClose: (reason: CloseReason | 'client_gone') => {
          clients.delete(client);
          metrics.clients.dec();
          metrics.disconnects.inc({ reason });
        },
      });
      clients.add(client);
      // The resume position is older than anything the log still keeps: say so before the rest.
      if (oldest !== undefined && comparePositions(oldest, after) > 0) {
        client.control('stream.gap', { after, oldest, message: 'events after this position were trimmed from the log (eventLog retention)' });
      }
      client.subscription = feed.subscribe(after, client);
    },
  );

  app.get<{ Params: Static<typeof EventParams> }>(
    '/v1/events/:id',
    {
      config: { role: 'read' },
      schema: {
        summary: `One accepted event by its id, with its log position (looks through the newest ${FIND_SCAN_ENTRIES} log entries)`,
        tags: ['stream'],
        security: [{ bearer: [] }],
        params: EventParams,
        response: { '4xx': ErrorResponse },
      },
    },
    async (request) => {
      const filter = EventFilter.parse({}, request.principal);
      const entry = await log.find(request.params.id, FIND_SCAN_ENTRIES);
      // Another tenant's event is as absent as one that never was.
      if (!entry || !filter.matches(entry.type, () => entry.event)) throw new NotFoundError(`no event ${request.params.id} in the log`);
      return { position: entry.position, event: entry.event };
    },
  );
};
