import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { ForbiddenError, NotFoundError, ValidationError, type ErrorDetail } from '../errors.js';
import type { Principal } from '../server/auth.js';
import { ErrorResponse } from '../server/schemas.js';
import { holdToLimit, withinTenant } from '../events/tenant.js';
import { INTEGRATOR_NAME_PATTERN, type IntegratorRegistry, type IntegratorScope, type IntegratorSpec } from './registry.js';

const Name = Type.String({ pattern: INTEGRATOR_NAME_PATTERN, description: 'Letters, digits, `_ . -`; at most 64; the consumer group name' });

const Scope = Type.Object(
  {
    reseller: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    domain: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  },
  {
    additionalProperties: false,
    minProperties: 1,
    description: "The tenant whose events it receives, on its own stream and list; a tenant-limited token's own scope by default",
  },
);

const IntegratorRequestBody = Type.Object(
  {
    name: Name,
    types: Type.Optional(
      Type.Array(Type.String({ minLength: 1 }), { minItems: 1, uniqueItems: true, description: 'Event types to receive; default ["cdr.created"]. cti.* never reach integrators (the CTI cache appends them to the event log itself) and are refused' }),
    ),
    stream: Type.Optional(Type.Boolean({ description: 'A consumer group on the stream; default true unless legacyList' })),
    legacyList: Type.Optional(Type.Boolean({ description: 'An own Redis List fed with the Enigma CDR messages (BRPOP); default false' })),
    listKey: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        pattern: '^[^{}\\s]+$',
        description: 'The key of the legacy list, when its consumer expects a given name (implies legacyList); filled from the event log by the list relay, in log order',
      }),
    ),
    scope: Type.Optional(Scope),
  },
  { additionalProperties: false },
);

const Lag = Type.Object({
  pending: Type.Integer(),
  oldestPendingAgeMs: Type.Union([Type.Integer(), Type.Null()]),
  undelivered: Type.Union([Type.Integer(), Type.Null()]),
  deadLetters: Type.Integer(),
  lost: Type.Integer(),
  listLength: Type.Union([Type.Integer(), Type.Null()]),
});

const Integrator = Type.Object({
  name: Type.String(),
  types: Type.Array(Type.String()),
  legacyList: Type.Boolean(),
  scope: Type.Optional(Scope),
  stream: Type.Optional(Type.String({ description: 'Stream key to XREADGROUP' })),
  group: Type.Optional(Type.String({ description: 'Consumer group name' })),
  deadLetter: Type.Optional(Type.String({ description: 'Dead-letter stream key' })),
  list: Type.Optional(Type.String({ description: 'Legacy list key to BRPOP' })),
  createdAt: Type.String(),
  lag: Type.Optional(Lag),
});

const NameParams = Type.Object({ name: Type.String() });

const ReplayQuery = Type.Object(
  {
    since: Type.String({ minLength: 1, description: 'ISO time (entries accepted at or after it) or stream id (entries after it; pass `next` here to page)' }),
    limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
  },
  { additionalProperties: false },
);

const ReplayPage = Type.Object({
  items: Type.Array(
    Type.Object({ streamId: Type.String(), id: Type.String(), type: Type.String(), event: Type.Unknown() }),
  ),
  next: Type.Union([Type.String(), Type.Null()], { description: 'Pass as `since` for the next page; null at the end' }),
  oldestAvailable: Type.Union([Type.String(), Type.Null()], { description: 'Oldest entry still retained' }),
});

const tags = ['integrators'];
const security = [{ bearer: [] }];

/** Integrators API (docs/integrators.md). */
export function integratorRoutes(registry: IntegratorRegistry): FastifyPluginAsync {
  return async (app) => {
    const withLag = async (specs: IntegratorSpec[]) => {
      const lag = await registry.lag(specs);
      return specs.map((spec) => ({ ...registry.view(spec), lag: lag.get(spec.name) }));
    };
    /** An integrator outside the token's tenant is answered like one that does not exist. */
    const visible = async (request: FastifyRequest) => {
      const { name } = request.params as { name: string };
      const spec = await registry.get(name);
      if (!withinTenant(spec.scope ?? {}, request.principal?.scope)) throw new NotFoundError(`no integrator "${name}"`);
      return spec;
    };

    app.post('/v1/integrators', {
      config: { role: 'admin' },
      schema: {
        summary: 'Register an integrator',
        description: 'Creates its consumer group at the end of the stream (it receives the events accepted from now on) and/or its legacy list. The answer names the keys to read.',
        tags,
        security,
        body: IntegratorRequestBody,
        response: { 201: Integrator, '4xx': ErrorResponse },
      },
      // The route validator drops unknown keys (src/server/validator.ts); a typo such as `legacylist` must be an error instead.
      preValidation: async (request) => {
        const body = request.body;
        if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
        const unknown = Object.keys(body).filter((key) => !(key in IntegratorRequestBody.properties));
        if (unknown.length > 0) {
          throw new ValidationError(`unknown fields: ${unknown.join(', ')}`, {
            details: unknown.map((key) => ({ path: `/${key}`, message: 'unknown field' })),
          });
        }
      },
      handler: async (request, reply) => {
        const body = request.body as typeof IntegratorRequestBody.static;
        const scope = integratorScope(request.principal, body.scope);
        return reply.code(201).send(await registry.register({ ...body, ...(scope ? { scope } : {}) }));
      },
    });

    app.get('/v1/integrators', {
      config: { role: 'read' },
      schema: { summary: 'Integrators with their lag', tags, security, response: { 200: Type.Object({ integrators: Type.Array(Integrator) }) } },
      handler: async (request) => ({
        integrators: await withLag((await registry.list()).filter((spec) => withinTenant(spec.scope ?? {}, request.principal?.scope))),
      }),
    });

    app.get('/v1/integrators/:name', {
      config: { role: 'read' },
      schema: { summary: 'One integrator with its lag', tags, security, params: NameParams, response: { 200: Integrator, '4xx': ErrorResponse } },
      handler: async (request) => {
        const [one] = await withLag([await visible(request)]);
        return one;
      },
    });

    app.delete('/v1/integrators/:name', {
      config: { role: 'admin' },
      schema: {
        summary: 'Remove an integrator, its group, list and dead letters',
        tags,
        security,
        params: NameParams,
        response: { 204: Type.Null(), '4xx': ErrorResponse },
      },
      handler: async (request, reply) => {
        await registry.remove(await visible(request));
        return reply.code(204).send();
      },
    });

    app.get('/v1/integrators/:name/replay', {
      config: { role: 'read' },
      schema: {
        summary: "Re-read the integrator's events since a time or a stream id",
        description: 'Reads the stream with XRANGE; the live consumer group is not touched. Limited to what retention kept (see oldestAvailable).',
        tags,
        security,
        params: NameParams,
        querystring: ReplayQuery,
        response: { 200: ReplayPage, '4xx': ErrorResponse },
      },
      handler: async (request) => {
        const { since, limit } = request.query as typeof ReplayQuery.static;
        return registry.replay(await visible(request), since, limit);
      },
    });
  };
}

/**
 * The scope a new integrator gets: what the request names, inside the token's limit. A
 * tenant-limited token's integrators are always limited to (at least) its tenant, so it can
 * neither register a global integrator nor one of another tenant.
 */
function integratorScope(principal: Principal | undefined, requested: IntegratorScope | undefined): IntegratorScope | undefined {
  const { scope, conflicts } = holdToLimit<IntegratorScope>({ ...requested }, principal?.scope);
  const problems: ErrorDetail[] = conflicts.map(({ level, allowed }) => ({ path: `/scope/${level}`, message: `token "${principal?.name}" is limited to ${level} "${allowed}"` }));
  if (problems.length > 0) throw new ForbiddenError('the integrator names a tenant outside the token scope', { details: problems });
  return scope.reseller === undefined && scope.domain === undefined ? undefined : scope;
}
