import type { FastifyError, FastifyInstance, FastifyRequest } from 'fastify';
import { AuthError, AuthThrottledError, RequestTimeoutError, SwitchboardError, type ErrorCode, type ErrorDetail } from '../errors.js';

/** The one place where error codes become HTTP statuses; a code without a status does not compile. */
const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  CONFIG_INVALID: 500,
  DEPENDENCY_MISSING: 500,
  STARTUP_FAILED: 500,
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  VALIDATION_FAILED: 400,
  MALFORMED_JSON: 400,
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  AUTH_THROTTLED: 429,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  BODY_TOO_LARGE: 413,
  BATCH_TOO_LARGE: 413,
  VALUE_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  SPOOL_FULL: 503,
  SPOOL_FAILED: 503,
  SHUTTING_DOWN: 503,
  REDIS_UNAVAILABLE: 503,
  POOL_EXHAUSTED: 503,
  LOG_ENTRY_UNREADABLE: 500,
  // Never answered over HTTP: they describe a PBX connection (src/sources), reported in /readyz.
  SOURCE_PROTOCOL: 502,
  SOURCE_AUTH: 502,
  INTERNAL: 500,
  STREAM_FULL: 503,
  LIVE_REBUILDING: 503,
};

/** Fastify's own errors, renamed to our stable codes. */
const FASTIFY_CODES: Readonly<Record<string, ErrorCode>> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'MALFORMED_JSON',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'MALFORMED_JSON',
  // With the body received, only request paths waiting on Redis take that long (src/server/app.ts
  // applyDeadline); a body still arriving is the client's delay (see asClientDelay).
  FST_ERR_HANDLER_TIMEOUT: 'REDIS_UNAVAILABLE',
};

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[] };
}

export function registerErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((raised: FastifyError | SwitchboardError, request, reply) => {
    const error = asClientDelay(raised, request);
    const { status, body } = toHttp(error);
    // The rest of a late body may still be on its way: the connection cannot carry another request.
    if (error instanceof RequestTimeoutError) reply.header('connection', 'close');
    // A typed 503 (pool exhausted, Redis away, spool full) is an expected answer, not a fault: no stack.
    if (status >= 500 && error instanceof SwitchboardError && status !== 500) request.log.warn({ code: error.code }, error.message);
    else if (status >= 500) request.log.error({ err: error }, 'request failed');
    if (status === 401) {
      const challenge = error instanceof AuthError ? error.challenge : undefined;
      reply.header('www-authenticate', challenge ?? 'Bearer realm="switchboard"');
    }
    if (error instanceof AuthThrottledError) reply.header('retry-after', String(error.retryAfterSeconds));
    return reply.code(status).send(body);
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${request.url}` } }),
  );
}

/**
 * A route's deadline starts when its request does, so it can pass while the client is still
 * sending the body. That is the client's delay (408), not Redis being away (503).
 */
function asClientDelay(error: FastifyError | SwitchboardError, request: FastifyRequest): FastifyError | SwitchboardError {
  if (error instanceof SwitchboardError || error.code !== 'FST_ERR_HANDLER_TIMEOUT' || request.raw.complete) return error;
  return new RequestTimeoutError(`the request body did not arrive within ${request.routeOptions.handlerTimeout} ms`, { cause: error });
}

export function toHttp(error: FastifyError | SwitchboardError): { status: number; body: ErrorBody } {
  if (error instanceof SwitchboardError) {
    const status = STATUS_BY_CODE[error.code];
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details) body.error.details = error.details;
    return { status, body };
  }
  const fastifyError = error as FastifyError;
  const code = FASTIFY_CODES[fastifyError.code] ?? (isJsonSyntaxError(fastifyError) ? 'MALFORMED_JSON' : undefined);
  if (code) {
    return { status: STATUS_BY_CODE[code], body: { error: { code, message: fastifyError.message } } };
  }
  const status = fastifyError.statusCode && fastifyError.statusCode < 500 ? fastifyError.statusCode : 500;
  const message = status === 500 ? 'internal error' : fastifyError.message;
  return { status, body: { error: { code: status === 500 ? 'INTERNAL' : 'BAD_REQUEST', message } } };
}

function isJsonSyntaxError(error: FastifyError): boolean {
  return error instanceof SyntaxError && error.statusCode === 400;
}
