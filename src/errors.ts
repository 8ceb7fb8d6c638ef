/**
 * Typed errors with stable codes. HTTP status codes are mapped from `code` in one place
 * (src/server/errors.ts); nothing else decides a status.
 */
/**
 * Every stable code the hub can answer or fail with. The HTTP status map in src/server/errors.ts
 * is a `Record<ErrorCode, number>`, so adding a code without a status is a compile error.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'DEPENDENCY_MISSING'
  | 'STARTUP_FAILED'
  | 'VALIDATION_FAILED'
  | 'MALFORMED_JSON'
  | 'BAD_REQUEST'
  | 'REQUEST_TIMEOUT'
  | 'AUTH_REQUIRED'
  | 'AUTH_INVALID'
  | 'AUTH_THROTTLED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'CONFLICT'
  | 'BODY_TOO_LARGE'
  | 'BATCH_TOO_LARGE'
  | 'VALUE_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'SPOOL_FULL'
  | 'SPOOL_FAILED'
  | 'SHUTTING_DOWN'
  | 'REDIS_UNAVAILABLE'
  | 'POOL_EXHAUSTED'
  | 'LOG_ENTRY_UNREADABLE'
  | 'SOURCE_PROTOCOL'
  | 'SOURCE_AUTH'
  | 'STREAM_FULL'
  | 'LIVE_REBUILDING'
  | 'INTERNAL';

export interface ErrorDetail {
  index?: number;
  path: string;
  message: string;
}

export interface SwitchboardErrorOptions {
  cause?: unknown;
  details?: ErrorDetail[];
}

export abstract class SwitchboardError extends Error {
  abstract readonly code: ErrorCode;
  readonly details: ErrorDetail[] | undefined;

  constructor(message: string, options: SwitchboardErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.details = options.details;
  }
}

/** Invalid configuration: the message names the offending key. */
export class ConfigError extends SwitchboardError {
  readonly code = 'CONFIG_INVALID';
}

export class ValidationError extends SwitchboardError {
  readonly code = 'VALIDATION_FAILED';
}

export class BatchTooLargeError extends SwitchboardError {
  readonly code = 'BATCH_TOO_LARGE';
}

/** A 401; `challenge` is the WWW-Authenticate value (Bearer unless the route uses another scheme). */
export abstract class AuthError extends SwitchboardError {
  readonly challenge: string | undefined;

  constructor(message: string, options: SwitchboardErrorOptions & { challenge?: string } = {}) {
    super(message, options);
    this.challenge = options.challenge;
  }
}

export class AuthRequiredError extends AuthError {
  readonly code = 'AUTH_REQUIRED';
}

export class AuthInvalidError extends AuthError {
  readonly code = 'AUTH_INVALID';
}

export class ForbiddenError extends SwitchboardError {
  readonly code = 'FORBIDDEN';
}

export class NotFoundError extends SwitchboardError {
  readonly code = 'NOT_FOUND';
}

export class ConflictError extends SwitchboardError {
  readonly code = 'CONFLICT';
}

/** The spool's size cap or the disk is full: intake cannot make events durable. */
export class SpoolFullError extends SwitchboardError {
  readonly code = 'SPOOL_FULL';
}

/** The spool failed for another reason (I/O error, closed): intake cannot make events durable. */
export class SpoolFailedError extends SwitchboardError {
  readonly code = 'SPOOL_FAILED';
}

/** The hub is shutting down and takes no new work. */
export class ShuttingDownError extends SwitchboardError {
  readonly code = 'SHUTTING_DOWN';
}

/** The request's body did not arrive within the route's deadline. */
export class RequestTimeoutError extends SwitchboardError {
  readonly code = 'REQUEST_TIMEOUT';
}

export class RedisUnavailableError extends SwitchboardError {
  readonly code = 'REDIS_UNAVAILABLE';
}

/** A start-up step failed in a way the operator can fix (a port in use, Redis unreachable); the message says how. */
export class StartupError extends SwitchboardError {
  readonly code = 'STARTUP_FAILED';
}

/** An external dependency the hub needs at start is missing (e.g. redis-server). */
export class DependencyMissingError extends SwitchboardError {
  readonly code = 'DEPENDENCY_MISSING';
}

/** Every number of a CTI pool is in use; the message names the pool. */
export class PoolExhaustedError extends SwitchboardError {
  readonly code = 'POOL_EXHAUSTED';
}

/** A CTI value larger than `cti.maxValueBytes`. */
export class ValueTooLargeError extends SwitchboardError {
  readonly code = 'VALUE_TOO_LARGE';
}

/** An event-log entry whose stored event cannot be decoded (written by something other than the hub). */
export class LogEntryUnreadableError extends SwitchboardError {
  readonly code = 'LOG_ENTRY_UNREADABLE';
}

/** A body in a media type or charset the route does not take (JSON in UTF-8 only). */
export class UnsupportedMediaTypeError extends SwitchboardError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
}

/** A PBX sent bytes that break its protocol's framing; the connection cannot continue. */
export class SourceProtocolError extends SwitchboardError {
  readonly code = 'SOURCE_PROTOCOL';
}

/** A PBX refused the configured credentials. */
export class SourceAuthError extends SwitchboardError {
  readonly code = 'SOURCE_AUTH';
}

/** The hub serves `stream.maxClients` event streams already. */
export class StreamFullError extends SwitchboardError {
  readonly code = 'STREAM_FULL';
}

/** The live state is still being rebuilt from the event log (after a start). */
export class LiveRebuildingError extends SwitchboardError {
  readonly code = 'LIVE_REBUILDING';
}

/** Too many credential checks are running (per client address or in total): 429, retry later. */
export class AuthThrottledError extends SwitchboardError {
  readonly code = 'AUTH_THROTTLED';
  readonly retryAfterSeconds: number;

  constructor(message: string, options: SwitchboardErrorOptions & { retryAfterSeconds: number }) {
    super(message, options);
    this.retryAfterSeconds = options.retryAfterSeconds;
  }
}
