import type { FastifyPluginAsync } from 'fastify';
import { Type } from '@sinclair/typebox';
import type { Config } from '../config/schema.js';
import { ForbiddenError, SwitchboardError, type ErrorDetail } from '../errors.js';
import { toHttp } from '../server/errors.js';
import { EVENT_DATA_SCHEMAS, isHubEmittedType, SubmittedEvent, type AcceptedEvent } from '../events/catalogue.js';
import { DATA_DOMAIN_FIELDS, eventTenant, holdToLimit, withinTenant } from '../events/tenant.js';
import type { Appender } from '../log/appender.js';
import type { Principal } from '../server/auth.js';
import { ErrorResponse } from '../server/schemas.js';
import { checkedInHandler } from '../server/validator.js';
import { validateBatch } from './validate.js';

export interface IntakeOptions {
  appender: Appender;
  http: Config['http'];
}

const IntakeAccepted = Type.Object({
  accepted: Type.Integer({ description: 'Events accepted, duplicates included' }),
  duplicates: Type.Integer({ description: 'Events whose id was already accepted inside the dedup window; not delivered again' }),
  ids: Type.Array(Type.String(), { description: 'Event ids in request order (generated where the request had none)' }),
});

const IntakeRefused = Type.Object({
  error: Type.Object({
    code: Type.String(),
    message: Type.String(),
    ids: Type.Array(Type.String(), { description: 'The events\' ids (generated where the request had none): retry with them; a retry is deduplicated' }),
  }),
});

/** Intake (docs/events.md, docs/event-log.md): validates the whole batch, makes it durable, then answers 202. */
export const intakeRoutes: FastifyPluginAsync<IntakeOptions> = async (app, { appender, http }) => {
  // Events are JSON only: anything else is 415, not a confusing validation error.
  app.removeContentTypeParser('text/plain');

  app.post('/v1/events', {
    bodyLimit: http.bodyLimitBytes,
    config: { role: 'ingest', ownDeadline: true },
    // The handler validates against the catalogue itself, to list every problem of every event.
    ...checkedInHandler,
    schema: {
      summary: 'Submit one event or a batch',
      description: `One event or an array of up to ${http.maxBatchEvents}. A batch with any invalid event is rejected whole. 202 means durable (Redis or the local spool).`,
      tags: ['intake'],
      security: [{ bearer: [] }],
      body: Type.Union([SubmittedEvent, Type.Array(SubmittedEvent)]),
      response: { 202: IntakeAccepted, '4xx': ErrorResponse, 503: IntakeRefused },
    },
    handler: async (request, reply) => {
      refuseHubEmittedTypes(request.body);
      const events = validateBatch(request.body, http.maxBatchEvents);
      if (request.principal) applyTokenScope(events, request.principal);
      let outcome;
      try {
        outcome = await appender.append(events);
      } catch (error) {
        // A 503 names every event's id (generated ones too): the client resends with them, and
        // whatever was stored after all is then recognised as a duplicate.
        if (error instanceof SwitchboardError) {
          const { status, body } = toHttp(error);
          if (status === 503) return reply.code(503).send({ error: { ...body.error, ids: events.map((event) => event.id) } });
        }
        throw error;
      }
      return reply.code(202).send({
        accepted: events.length,
        duplicates: outcome.duplicates,
        ids: events.map((event) => event.id),
      });
    },
  });

  app.get('/v1/schemas', {
    schema: {
      summary: 'JSON Schemas of the event envelope and of each event type\'s data',
      tags: ['intake'],
    },
    handler: async () => ({ envelope: SubmittedEvent, types: EVENT_DATA_SCHEMAS }),
  });
};

/**
 * Events that only the hub emits (cti.*, subscription.*, source.*, …) cannot be submitted: a
 * forged one would be indistinguishable from a genuine one downstream.
 */
function refuseHubEmittedTypes(body: unknown): void {
  const items: unknown[] = Array.isArray(body) ? body : [body];
  const problems: ErrorDetail[] = [];
  const types = new Set<string>();
  items.forEach((item, index) => {
    const type = (item as { type?: unknown } | null)?.type;
    if (typeof type === 'string' && isHubEmittedType(type)) {
      types.add(type);
      problems.push({ index, path: '/type', message: `"${type}" is emitted by the hub only and cannot be submitted` });
    }
  });
  if (problems.length > 0) {
    throw new ForbiddenError(`event type ${[...types].join(', ')} is emitted by the hub only and cannot be submitted`, { details: problems });
  }
}

/** A tenant-limited token fills in its scope and may not submit events for another tenant. */
function applyTokenScope(events: AcceptedEvent[], principal: Principal): void {
  const limit = principal.scope;
  if (!limit) return;
  const problems: ErrorDetail[] = [];
  events.forEach((event, index) => {
    const { scope, conflicts } = holdToLimit(event.scope ?? {}, limit);
    for (const { level, allowed } of conflicts) {
      problems.push({ index, path: `/scope/${level}`, message: `token "${principal.name}" is limited to ${level} "${allowed}"` });
    }
    event.scope = scope;
    // Where the data names the tenant domain (an audit entry's target_domain), it is held to the
    // token's domain too: with the scope held to the limit, only that field can still lie outside it.
    const domainField = DATA_DOMAIN_FIELDS[event.type];
    if (domainField !== undefined && !withinTenant(eventTenant(event), limit)) {
      problems.push({ index, path: `/data/${domainField}`, message: `token "${principal.name}" is limited to domain "${limit.domain}"` });
    }
  });
  if (problems.length > 0) throw new ForbiddenError('the batch names tenants outside the token scope', { details: problems });
}
