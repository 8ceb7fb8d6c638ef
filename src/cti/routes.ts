import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { createHash } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { NotFoundError, PoolExhaustedError, ValidationError, ValueTooLargeError } from '../errors.js';
import { MAX_CTI_ANI_LENGTH } from '../events/catalogue.js';
import { summarize, validationDetails } from '../validation.js';
import { ErrorResponse } from '../server/schemas.js';
import { checkedInHandler } from '../server/validator.js';
import type { BasicAuthenticator } from './basic-auth.js';
import type { CtiPool, CtiPools } from './pools.js';
import type { CtiStore } from './store.js';

const BASE = '/cticache/DNIS-ANI';
/**
 * Callers whose number is withheld. Their DNIS is leased exclusively and the entry is stored
 * under ani "", so a GET with any of these forms finds it (the target may see another one).
 */
const WITHHELD_ANI = new Set(['', 'anonymous', 'unknown', 'restricted', 'private']);

function isWithheld(ani: string): boolean {
  const first = ani.charCodeAt(0);
  // A number (the usual case) skips the normalisation.
  if ((first >= 48 && first <= 57) || first === 43) return false;
  return WITHHELD_ANI.has(ani.trim().toLowerCase());
}

const StoreRequest = Type.Object(
  {
    value: Type.Unknown({ description: 'Any JSON: the call data to pass to the target system' }),
    ani: Type.String({
      maxLength: MAX_CTI_ANI_LENGTH,
      pattern: '^[^\\u0000-\\u001f\\u007f]*$',
      description: 'The caller\'s number. Empty, "anonymous", "unknown", "restricted" or "private" (any case) lease the DNIS exclusively.',
    }),
    pool: Type.Optional(Type.String({ minLength: 1, description: 'Pool of the target system; the default pool otherwise' })),
  },
  { additionalProperties: false },
);
type StoreRequest = Static<typeof StoreRequest>;
const checkStoreRequest = TypeCompiler.Compile(StoreRequest);

const EntryParams = Type.Object({ key: Type.String({ description: '<dnis>:<ani>, as in the Location of the POST' }) });
const Stored = Type.Object({ dnis: Type.String(), ani: Type.String(), value: Type.Unknown() });
const Fetched = Type.Object({ value: Type.Unknown() });
const errors = { '4xx': ErrorResponse, 503: ErrorResponse };

/** What the routes report to metrics (the event log records are written by the store's scripts). */
export interface CtiRouteEvents {
  allocated(pool: CtiPool): void;
  exhausted(pool: CtiPool): void;
  fetched(pool: CtiPool | undefined, found: boolean, deleted: boolean): void;
}

export interface CtiRouteOptions {
  pools: CtiPools;
  store: CtiStore;
  auth: BasicAuthenticator;
  maxValueBytes: number;
  events: CtiRouteEvents;
}

/** The CTI cache session (docs/contracts/cti-cache.md): POST stores and allocates, GET fetches, DELETE fetches and deletes. */
export function ctiRoutes({ pools, store, auth, maxValueBytes, events }: CtiRouteOptions): FastifyPluginAsync {
  return async (app) => {
    // Values are JSON only: anything else is 415, not a confusing validation error.
    app.removeContentTypeParser('text/plain');
    app.addHook('onRequest', (request, _reply, done) => {
      // Known credentials pass without a promise; new ones wait for scrypt.
      if (auth.verifiedUser(request.headers.authorization) !== undefined) return done();
      auth.authenticate(request.headers.authorization, request.ip).then(() => done(), done);
    });
    const common = {
      tags: ['cti'],
      security: [{ basic: [] }],
    };
    // Bodies and params are checked in the handlers, to answer with precise, complete details.
    app.post(BASE, {
      bodyLimit: maxValueBytes + 1024,
      ...checkedInHandler,
      schema: {
        ...common,
        summary: 'Store call data and get a DNIS of the target system\'s pool to transfer the call to',
        description: `201 with Location /cticache/DNIS-ANI/<dnis>:<ani>. The value is at most ${maxValueBytes} bytes of JSON (413 beyond). 503 POOL_EXHAUSTED when every number of the pool is in use for this caller.`,
        body: StoreRequest,
        response: { 201: Stored, ...errors },
      },
      handler: async (request, reply) => {
        const body = parseStoreRequest(request.body);
        const pool = resolvePool(pools, body.pool);
        const value = JSON.stringify(body.value);
        const sizeBytes = Buffer.byteLength(value);
        if (sizeBytes > maxValueBytes) {
          throw new ValueTooLargeError(`value is ${sizeBytes} bytes of JSON; the limit is ${maxValueBytes} (cti.maxValueBytes)`);
        }
        let dnis: string;
        try {
          dnis = await store.put(pool, body.ani, isWithheld(body.ani) ? '' : body.ani, value);
        } catch (error) {
          if (error instanceof PoolExhaustedError) events.exhausted(pool);
          throw error;
        }
        events.allocated(pool);
        return sendJson(
          reply.code(201).header('location', `${BASE}/${encodeURIComponent(dnis)}:${encodeURIComponent(body.ani)}`),
          `{"dnis":${JSON.stringify(dnis)},"ani":${JSON.stringify(body.ani)},"value":${value}}`,
        );
      },
    });

    const fetch = (deleted: boolean) => async (request: FastifyRequest, reply: FastifyReply) => {
      const { key } = request.params as { key: string };
      const colon = key.indexOf(':');
      if (colon <= 0) throw new NotFoundError(`no entry "${key}": expected ${BASE}/<dnis>:<ani>`);
      const dnis = key.slice(0, colon);
      const ani = key.slice(colon + 1);
      // An ANI longer than a store takes was never stored: a miss, with no cti.data_fetched the
      // catalogue would refuse (src/cti/events.ts checks every event before its script runs).
      const pool = ani.length <= MAX_CTI_ANI_LENGTH ? pools.byDnis.get(dnis) : undefined;
      const storedAni = isWithheld(ani) ? '' : ani;
      const value = pool ? await (deleted ? store.take(pool, dnis, ani, storedAni) : store.get(pool, dnis, ani, storedAni)) : null;
      events.fetched(pool, value !== null, deleted);
      if (value === null) throw new NotFoundError(`no entry for ${dnis}:${ani} (never stored, fetched with DELETE, or expired)`);
      const json = `{"value":${value}}`;
      if (deleted) return sendJson(reply, json);
      // GET answers with an ETag like Express's (docs/contracts/cti-cache.md) and honours If-None-Match.
      const etag = weakEtag(json);
      reply.header('etag', etag);
      if (matchesEtag(request.headers['if-none-match'], etag)) return reply.code(304).send();
      return sendJson(reply, json);
    };

    app.get(`${BASE}/:key`, {
      ...checkedInHandler,
      schema: {
        ...common,
        summary: 'Fetch the call data stored under DNIS:ANI',
        params: EntryParams,
        response: { 200: Fetched, ...errors },
      },
      handler: fetch(false),
    });

    app.delete(`${BASE}/:key`, {
      ...checkedInHandler,
      schema: {
        ...common,
        summary: 'Fetch and delete the call data stored under DNIS:ANI (atomically), releasing the DNIS',
        params: EntryParams,
        response: { 200: Fetched, ...errors },
      },
      handler: fetch(true),
    });
  };
}

function resolvePool(pools: CtiPools, name: string | undefined): CtiPool {
  if (name === undefined) {
    if (pools.defaultPool) return pools.defaultPool;
    throw new ValidationError('pool is required: several pools are configured and cti.defaultPool names none', {
      details: [{ path: '/pool', message: `expected one of ${[...pools.byName.keys()].join(', ')}` }],
    });
  }
  const pool = pools.byName.get(name);
  if (pool) return pool;
  throw new ValidationError(`unknown pool "${name}"`, {
    details: [{ path: '/pool', message: `expected one of ${[...pools.byName.keys()].join(', ')}` }],
  });
}

function parseStoreRequest(body: unknown): StoreRequest {
  if (checkStoreRequest.Check(body)) return body;
  const details = validationDetails(checkStoreRequest.Errors(body), { unknownFieldHint: 'expected value, ani, pool' });
  throw new ValidationError(`invalid body: ${summarize(details)}`, { details });
}

/** A weak validator of the body, in Express's form: `W/"<length in hex>-<sha1, base64, 27 chars>"`. */
function weakEtag(body: string): string {
  const hash = createHash('sha1').update(body, 'utf8').digest('base64').slice(0, 27);
  return `W/"${Buffer.byteLength(body).toString(16)}-${hash}"`;
}

/** If-None-Match uses the weak comparison: `*`, or any listed tag equal once `W/` is ignored. */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const opaque = etag.slice(2);
  return header.split(',').some((tag) => {
    const trimmed = tag.trim();
    return trimmed === '*' || (trimmed.startsWith('W/') ? trimmed.slice(2) : trimmed) === opaque;
  });
}

/** Sends prebuilt JSON (values are stored as JSON text and passed through without re-parsing). */
function sendJson(reply: FastifyReply, json: string): FastifyReply {
  return reply.type('application/json; charset=utf-8').send(json);
}
