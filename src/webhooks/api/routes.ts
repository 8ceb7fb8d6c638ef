import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Type, type Static } from '@sinclair/typebox';
import type { WebhooksConfig } from '../../config/schema.js';
import { NotFoundError, ValidationError } from '../../errors.js';
import { LogReader, positionBefore } from '../../log/reader.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { ErrorResponse } from '../../server/schemas.js';
import { checkedInHandler } from '../../server/validator.js';
import { MODELS } from '../models.js';
import type { Placement } from '../cluster/placement.js';
import { SubscriptionPresenter } from './presenter.js';
import { sameDefinition, type SubscriptionDef, type SubscriptionStore } from '../store.js';
import { parseDatetime, rejectIfAny, resolveScope, schemaProblems, SubscriptionBuilder, visibleTo } from './subscription-builder.js';
import type { TargetPolicy } from '../delivery/target-policy.js';

export interface SubscriptionRoutesOptions {
  store: SubscriptionStore;
  policy: TargetPolicy;
  config: WebhooksConfig;
  redis: RedisClient;
  keys: Keys;
  /** The current placement, for `next-server`. */
  placement(): Placement | Promise<Placement> | undefined;
}

const Name = Type.String({ minLength: 1, maxLength: 256 });
const NS_DATETIME = '^\\d{4}-\\d{2}-\\d{2}[ T]\\d{2}:\\d{2}:\\d{2}';

const writable = {
  model: Type.String({ description: `One of ${MODELS.join(', ')}` }),
  'post-url': Type.String({ minLength: 1, maxLength: 2048, description: 'http or https, any port' }),
  reseller: Type.Optional(Name),
  domain: Type.Optional(Name),
  user: Type.Optional(Name),
  'subscription-expires-datetime': Type.Optional(Type.String({ pattern: NS_DATETIME, description: 'ISO 8601 or YYYY-MM-DD HH:MM:SS (UTC); default 20 years' })),
  'preferred-server': Type.Optional(Type.String({ maxLength: 128, description: 'nodeId of the hub to deliver from whenever it is eligible; "" removes the preference' })),
  'subscription-geo-support': Type.Optional(Type.Union([Type.Literal('yes'), Type.Literal('no')])),
  secret: Type.Optional(Type.String({ description: 'whsec_ + base64 of 24–64 random bytes; generated when absent, shown once' })),
};
/** Read-only fields a client may echo back on PUT; they are ignored. */
const echoed = {
  id: Type.Optional(Type.String()),
  'current-active-server': Type.Optional(Type.String()),
  'next-server': Type.Optional(Type.String()),
  'subscription-creation-datetime': Type.Optional(Type.String()),
  'failed-deliveries': Type.Optional(Type.Integer()),
  'last-error': Type.Optional(Type.String()),
};

const CreateBody = Type.Object({ ...writable, server_preferred: Type.Optional(Name) }, { additionalProperties: false });
const UpdateBody = Type.Object(
  {
    ...Type.Partial(Type.Object(writable)).properties,
    ...echoed,
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('disabled'), Type.Literal('pending'), Type.Literal('error')], { description: 'active re-enables (resumes from the cursor), disabled stops' })),
    'error-count': Type.Optional(Type.Integer({ description: 'may be reset to 0 only' })),
    'posts-count': Type.Optional(Type.Integer({ description: 'may be reset to 0 only' })),
  },
  { additionalProperties: false },
);
const ReplayBody = Type.Object({ since: Type.String({ pattern: NS_DATETIME, description: 'Re-deliver every matching event accepted at or after this time' }) }, { additionalProperties: false });

const Subscription = Type.Object(
  {
    id: Type.String(),
    model: Type.String(),
    'post-url': Type.String(),
    reseller: Type.String(),
    domain: Type.String(),
    user: Type.String(),
    'subscription-geo-support': Type.String(),
    'subscription-creation-datetime': Type.String(),
    'subscription-expires-datetime': Type.String(),
    'preferred-server': Type.String(),
    'current-active-server': Type.String({ description: 'The hub node delivering it now ("" while it moves)' }),
    'next-server': Type.String({ description: 'The hub node that takes it over if the current one goes away' }),
    status: Type.String(),
    'posts-count': Type.Integer(),
    'error-count': Type.Integer(),
    'failed-deliveries': Type.Integer(),
    'last-error': Type.Optional(Type.String()),
    secret: Type.Optional(Type.String({ description: 'Only in the answer that created or set it' })),
  },
  { additionalProperties: true },
);

const IdParams = Type.Object({ id: Type.String() });
const DomainParams = Type.Object({ domain: Type.String() });
const DomainIdParams = Type.Object({ domain: Type.String(), id: Type.String() });

/** Subscriptions API in the NetSapiens v2 shape, plus replay, failed deliveries and redrive. */
export const subscriptionRoutes: FastifyPluginAsync<SubscriptionRoutesOptions> = async (app: FastifyInstance, options) => {
  const { store, policy, config, redis, keys } = options;
  const log = new LogReader(redis, keys.eventLog);
  const tags = ['subscriptions'];
  const security = [{ bearer: [] }];
  const builder = new SubscriptionBuilder(config, policy);
  const presenter = new SubscriptionPresenter(store, options.placement);
  const present = (def: SubscriptionDef, secret?: string) => presenter.present(def, secret);

  async function load(request: FastifyRequest, id: string, domain?: string): Promise<SubscriptionDef> {
    const def = await store.get(id);
    if (!def || !visibleTo(request.principal, def) || (domain !== undefined && def.domain !== domain)) throw new NotFoundError(`no subscription ${id}`);
    return def;
  }

  async function create(request: FastifyRequest, pathDomain?: string) {
    const problems = schemaProblems(CreateBody, request.body);
    const { server_preferred: alias, ...body } = (request.body ?? {}) as Static<typeof CreateBody>;
    const def = await builder.create({ ...body, 'preferred-server': body['preferred-server'] ?? alias }, problems, request.principal, pathDomain);
    // Delivery starts after the newest event already in the log.
    await store.create(def, await log.head());
    request.log.info({ subscription: def.id, model: def.model, domain: def.domain }, 'subscription created');
    return present(def, def.secret);
  }

  async function update(request: FastifyRequest, id: string, pathDomain?: string) {
    const previous = await load(request, id, pathDomain);
    const problems = schemaProblems(UpdateBody, request.body);
    const body = (request.body ?? {}) as Static<typeof UpdateBody>;
    const def = await builder.update(previous, body, problems, request.principal, pathDomain);
    if (!sameDefinition(def, previous)) await store.update(def, previous);
    const resetPosts = body['posts-count'] === 0;
    const resetErrors = body['error-count'] === 0;
    const status = body.status === 'active' || body.status === 'disabled' ? body.status : undefined;
    if (resetPosts || resetErrors || status !== undefined) await store.control(def, { ...(status ? { status } : {}), resetPosts, resetErrors });
    return present(def);
  }

  async function remove(request: FastifyRequest, id: string, pathDomain?: string) {
    const def = await load(request, id, pathDomain);
    await store.delete(def);
    request.log.info({ subscription: id }, 'subscription deleted');
    return { id, deleted: true };
  }

  async function list(request: FastifyRequest, query: { start?: number; limit?: number }, pathDomain?: string) {
    if (pathDomain !== undefined) resolveScope(request.principal, { domain: pathDomain, reseller: request.principal?.scope?.reseller });
    const domain = pathDomain ?? request.principal?.scope?.domain;
    const defs = (await store.list(domain)).filter((def) => visibleTo(request.principal, def));
    const start = query.start ?? 0;
    return Promise.all(defs.slice(start, start + (query.limit ?? 1000)).map((def) => present(def)));
  }

  const ListQuery = Type.Object({ start: Type.Optional(Type.Integer({ minimum: 0 })), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000 })) });
  const listSchema = { summary: 'List subscriptions visible to the token', tags, security, querystring: ListQuery, response: { 200: Type.Array(Subscription), '4xx': ErrorResponse } };
  const readSchema = { summary: 'Read a subscription', tags, security, response: { 200: Subscription, '4xx': ErrorResponse } };
  const createSchema = {
    summary: 'Create a subscription (409 when an identical one exists; the secret is shown once)',
    tags,
    security,
    body: CreateBody,
    response: { 200: Subscription, '4xx': ErrorResponse },
  };
  const updateSchema = { summary: 'Update a subscription; counters may be reset to 0 only', tags, security, body: UpdateBody, response: { 202: Subscription, '4xx': ErrorResponse } };
  const deleteSchema = { summary: 'Delete a subscription', tags, security, response: { '4xx': ErrorResponse } };

  app.post('/v1/subscriptions', { config: { role: 'admin' }, ...checkedInHandler, schema: createSchema }, async (request) => create(request));
  app.get<{ Querystring: Static<typeof ListQuery> }>('/v1/subscriptions', { config: { role: 'read' }, schema: listSchema }, async (request) => list(request, request.query));
  app.get<{ Params: Static<typeof IdParams> }>('/v1/subscriptions/:id', { config: { role: 'read' }, schema: { ...readSchema, params: IdParams } }, async (request) =>
    present(await load(request, request.params.id)),
  );
  app.put<{ Params: Static<typeof IdParams> }>('/v1/subscriptions/:id', { config: { role: 'admin' }, ...checkedInHandler, schema: { ...updateSchema, params: IdParams } }, async (request, reply) =>
    reply.code(202).send(await update(request, request.params.id)),
  );
  app.delete<{ Params: Static<typeof IdParams> }>('/v1/subscriptions/:id', { config: { role: 'admin' }, schema: { ...deleteSchema, params: IdParams } }, async (request, reply) =>
    reply.code(202).send(await remove(request, request.params.id)),
  );

  app.post<{ Params: Static<typeof DomainParams> }>('/v1/domains/:domain/subscriptions', { config: { role: 'admin' }, ...checkedInHandler, schema: { ...createSchema, params: DomainParams } }, async (request) =>
    create(request, request.params.domain),
  );
  app.get<{ Params: Static<typeof DomainParams>; Querystring: Static<typeof ListQuery> }>(
    '/v1/domains/:domain/subscriptions',
    { config: { role: 'read' }, schema: { ...listSchema, params: DomainParams } },
    async (request) => list(request, request.query, request.params.domain),
  );
  app.get<{ Params: Static<typeof DomainIdParams> }>('/v1/domains/:domain/subscriptions/:id', { config: { role: 'read' }, schema: { ...readSchema, params: DomainIdParams } }, async (request) =>
    present(await load(request, request.params.id, request.params.domain)),
  );
  app.put<{ Params: Static<typeof DomainIdParams> }>(
    '/v1/domains/:domain/subscriptions/:id',
    { config: { role: 'admin' }, ...checkedInHandler, schema: { ...updateSchema, params: DomainIdParams } },
    async (request, reply) => reply.code(202).send(await update(request, request.params.id, request.params.domain)),
  );
  app.delete<{ Params: Static<typeof DomainIdParams> }>(
    '/v1/domains/:domain/subscriptions/:id',
    { config: { role: 'admin' }, schema: { ...deleteSchema, params: DomainIdParams } },
    async (request, reply) => reply.code(202).send(await remove(request, request.params.id, request.params.domain)),
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/v1/subscriptions/:id/replay',
    {
      config: { role: 'admin' },
      ...checkedInHandler,
      schema: { summary: 'Re-deliver, in order, every matching event accepted since a time (then continue live)', tags, security, params: IdParams, body: ReplayBody },
    },
    async (request, reply) => {
      const problems = schemaProblems(ReplayBody, request.body);
      rejectIfAny(problems);
      const body = request.body as Static<typeof ReplayBody>;
      const def = await load(request, request.params.id);
      const sinceText = parseDatetime(body.since, 'since', problems);
      rejectIfAny(problems);
      const since = Date.parse(sinceText as string);
      if (since > Date.now()) throw new ValidationError('since is in the future', { details: [{ path: '/since', message: 'in the future' }] });
      // The cursor is the last entry delivered: just below the first entry at `since`.
      await store.control(def, { cursor: positionBefore(since) });
      request.log.info({ subscription: def.id, since: new Date(since).toISOString() }, 'subscription replay requested');
      return reply.code(202).send({ id: def.id, since: new Date(since).toISOString() });
    },
  );

  app.get<{ Params: Static<typeof IdParams> }>(
    '/v1/subscriptions/:id/failed',
    { config: { role: 'read' }, schema: { summary: 'Failed deliveries: batches that exhausted their retries, kept for redrive', tags, security, params: IdParams } },
    async (request) => {
      const def = await load(request, request.params.id);
      const failed = await store.failedDeliveries(def);
      return failed.map((delivery) => ({
        id: delivery.id,
        'failed-at': delivery.failedAt,
        'webhook-id': delivery.webhookId,
        reason: delivery.reason,
        events: delivery.entries.length,
        'first-seq': delivery.entries[0]?.seq,
        'last-seq': delivery.entries.at(-1)?.seq,
      }));
    },
  );

  app.post<{ Params: Static<typeof IdParams> }>(
    '/v1/subscriptions/:id/redrive',
    { config: { role: 'admin' }, schema: { summary: 'Deliver the failed deliveries again (each leaves the list once delivered)', tags, security, params: IdParams } },
    async (request, reply) => {
      const def = await load(request, request.params.id);
      const batches = await store.requestRedrive(def);
      request.log.info({ subscription: def.id, batches }, 'subscription redrive requested');
      return reply.code(202).send({ id: def.id, batches });
    },
  );
};
