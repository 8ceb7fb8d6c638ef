import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Exponential backoff, capped, with "equal jitter": half the delay is fixed, half random, so
 * processes retrying against the same restarted peer (Redis, a PBX) spread out, and a delay
 * never collapses to zero.
 */
export function backoffDelayMs(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

export interface BackoffOptions {
  initialMs: number;
  maxMs: number;
  /** For tests: a fixed source of randomness. */
  random?: () => number;
}

/** Retrying Redis: quickly at first (a blip), then about every 2 s while it is away (a restart, a failover). */
export const REDIS_RETRY: BackoffOptions = { initialMs: 100, maxMs: 2000 };

/**
 * The state of one retry loop: each failure waits longer (see `backoffDelayMs`), a success
 * starts over. Every loop that retries Redis, a PBX or the hub uses one.
 */
export class Backoff {
  private attempt = 0;

  constructor(private readonly options: BackoffOptions) {}

  /** The delay before the next attempt; each call counts one more failure. */
  next(): number {
    const { initialMs, maxMs, random } = this.options;
    return backoffDelayMs(this.attempt++, initialMs, maxMs, random);
  }

  /** An attempt succeeded: the next failure waits the initial delay again. */
  reset(): void {
    this.attempt = 0;
  }

  /**
   * Waits the next delay; resolves early, never rejects, when `signal` aborts. `ref: false` lets
   * the process exit while a background loop waits.
   */
  async wait(signal?: AbortSignal, { ref = true }: { ref?: boolean } = {}): Promise<void> {
    await sleep(this.next(), undefined, { ref, ...(signal ? { signal } : {}) }).catch(() => undefined);
  }
}
