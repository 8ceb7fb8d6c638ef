import type { Logger } from 'pino';
import { describeError } from './core/describe-error.js';

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
