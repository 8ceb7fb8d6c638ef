import type { Logger } from 'pino';

/**
 * A readable one-line description of any error: node-redis timeouts and socket errors can have an
 * empty `message`, so the class name, the system error code and the cause fill in.
 */
export function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as NodeJS.ErrnoException).code;
  // node-redis's TimeoutError leaves both `name` and `message` at their defaults: its class names it.
  const kind = error.name === 'Error' ? error.constructor.name : error.name;
  const own = error.message || (kind === 'TimeoutError' ? 'Redis did not answer in time' : kind);
  const withCode = code && !own.includes(code) ? `${own} (${code})` : own;
  return error.cause === undefined ? withCode : `${withCode}: ${describeError(error.cause)}`;
}

/**
 * Warnings for failures that repeat while a dependency is away (Redis down): the first one is
 * logged, then at most one per `intervalMs` per kind, saying how many were held back.
 */
export class ThrottledWarnings {
  private readonly last = new Map<string, { at: number; held: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = 30_000,
  ) {}

  /** `what` says what failed ("event log trim failed"); the error's description follows it. */
  warn(what: string, error: unknown, fields: Record<string, unknown> = {}): void {
    const now = Date.now();
    const last = this.last.get(what);
    if (last && now - last.at < this.intervalMs) {
      last.held += 1;
      return;
    }
    const reason = describeError(error);
    this.logger.warn({ ...fields, reason, ...(last?.held ? { repeats: last.held } : {}) }, `${what}: ${reason}`);
    this.last.set(what, { at: now, held: 0 });
  }
}
