import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import { LiveRebuildingError, ValidationError } from '../errors.js';
import { ErrorResponse } from '../server/schemas.js';
import { EventFilter } from '../stream/filter.js';
import type { LiveProjection } from './projection.js';
import { agentsView, callsView, cdrsView, INTERVAL_SIZES, intervalsView, PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX, queuesView, type IntervalSize, type PageRequest } from './views.js';

export interface LiveRoutesOptions {
  projection: LiveProjection;
  /** True once the projection has caught up with the log (answers are 503 until then). */
  caughtUp: () => boolean;
}

const LiveQuery = Type.Object(
  {
    scope: Type.Optional(Type.String({ description: 'Tenant filter: `reseller:r1,domain:acme.example,user:1002` (any of the three)' })),
    limit: Type.Integer({ minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT, description: 'Items per page' }),
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 2048, description: 'The `next_cursor` of the previous page' })),
  },
  { additionalProperties: false },
);
type LiveQuery = Static<typeof LiveQuery>;

const IntervalsQuery = Type.Object(
  {
    ...LiveQuery.properties,
    // Checked in the handler, to name the sizes it takes (a union only says "must match a schema in anyOf").
    size: Type.String({ default: '30m', maxLength: 16, description: 'Interval length: 15m, 30m or 60m' }),
  },
  { additionalProperties: false },
);
type IntervalsQuery = Static<typeof IntervalsQuery>;

/**
 * GET /v1/live/*: the live projection, filtered by the token's tenant and `?scope=`, one page at a
 * time (`?limit=&cursor=`, the answer's `next_cursor`); docs/live.md.
 */
export const liveRoutes: FastifyPluginAsync<LiveRoutesOptions> = async (app, { projection, caughtUp }) => {
  const view = (build: (projection: LiveProjection, filter: EventFilter, page: PageRequest) => Promise<unknown>) => async (request: FastifyRequest<{ Querystring: LiveQuery }>) => {
    const filter = EventFilter.scopeOnly(request.query.scope, request.principal);
    if (!caughtUp()) throw new LiveRebuildingError('the live state is being rebuilt from the event log; try again shortly');
    return build(projection, filter, { limit: request.query.limit, cursor: request.query.cursor });
  };
  const schema = (summary: string) => ({ summary, tags: ['live'], security: [{ bearer: [] }], querystring: LiveQuery, response: { '4xx': ErrorResponse, 503: ErrorResponse } });

  app.get<{ Querystring: LiveQuery }>(
    '/v1/live/agents',
    { config: { role: 'read' }, schema: schema("Agents: status and activity (ringing, on call, on hold, after-call work…) and since, reason, current call, queues, today's figures, alerts; counts by status") },
    view(agentsView),
  );
  app.get<{ Querystring: LiveQuery }>(
    '/v1/live/queues',
    {
      config: { role: 'read' },
      schema: schema('Queues today: waiting, longest wait (since, max_wait_s), offered, answered, abandoned, short abandons, abandon rate, service level %, ASA, AHT, average wait and talk, alerts; totals count each agent once'),
    },
    view(queuesView),
  );
  app.get<{ Querystring: IntervalsQuery }>(
    '/v1/live/intervals',
    {
      config: { role: 'read' },
      schema: {
        ...schema("Today's intervals per queue: offered, answered, abandoned, abandon rate, service level, ASA and AHT per 15, 30 or 60 minutes"),
        querystring: IntervalsQuery,
      },
    },
    async (request) => {
      const filter = EventFilter.scopeOnly(request.query.scope, request.principal);
      if (!caughtUp()) throw new LiveRebuildingError('the live state is being rebuilt from the event log; try again shortly');
      const size = request.query.size;
      if (!Object.hasOwn(INTERVAL_SIZES, size)) {
        const sizes = Object.keys(INTERVAL_SIZES).join(', ');
        throw new ValidationError(`size must be one of: ${sizes}`, { details: [{ path: '/size', message: `must be one of: ${sizes} (got "${size}")` }] });
      }
      return intervalsView(projection, filter, { limit: request.query.limit, cursor: request.query.cursor, size: size as IntervalSize });
    },
  );
  app.get<{ Querystring: LiveQuery }>('/v1/live/calls', { config: { role: 'read' }, schema: schema('Calls in progress: queued, offered or connected') }, view(callsView));
  app.get<{ Querystring: LiveQuery }>('/v1/live/cdrs', { config: { role: 'read' }, schema: schema('The latest CDRs, newest first') }, view(cdrsView));
};
