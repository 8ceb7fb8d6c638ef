import { ErrorReply } from 'redis';
import { describeError } from '../core/describe-error.js';
import { PoolExhaustedError, RedisUnavailableError, SwitchboardError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { ScriptReply, scripts } from '../redis/scripts.js';
import type { CtiEventRenderer } from './events.js';
import type { CtiPool } from './pools.js';

type PoolKeys = ReturnType<Keys['ctiPool']>;

interface PendingCall {
  /** performance.now() after which the call fails. */
  deadline: number;
  reject: (error: Error) => void;
}

/**
 * The CTI entries and DNIS leases in Redis (see src/redis/lua/cti*.lua). An entry is
 * `<entryPrefix><dnis>:<ani>`, with ani "" for a withheld ANI. Every write and every hit appends
 * its cti.* event to the event log in the same script.
 */
export class CtiStore {
  private readonly pending = new Set<PendingCall>();
  private readonly keysByPool = new Map<CtiPool, PoolKeys>();
  private sweeper: NodeJS.Timeout | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly events: CtiEventRenderer,
    /** A command unanswered after this long fails the request with 503. */
    private readonly timeoutMs: number,
  ) {}

  /** Starts the deadline sweep (the component's start: building the store starts nothing). */
  start(): void {
    this.sweeper ??= setInterval(() => this.sweep(), Math.max(5, Math.floor(this.timeoutMs / 4))).unref();
  }

  /** Writes the configured numbers of each pool to Redis (idempotent; every hub does it at start). */
  async sync(pools: Iterable<CtiPool>): Promise<void> {
    for (const pool of pools) await this.call(() => scripts.ctiSyncPool.run(this.redis, [this.poolKeys(pool).order], pool.numbers));
  }

  /**
   * Leases a DNIS for the caller and stores `value` under it; returns the DNIS. `storedAni` is the
   * key's ANI ("" leases the DNIS exclusively), `ani` the caller's number as given, for the event.
   */
  async put(pool: CtiPool, ani: string, storedAni: string, value: string): Promise<string> {
    const keys = this.poolKeys(pool);
    const scriptKeys = [keys.order, this.keys.eventLog];
    const ttlMs = String(pool.ttlSeconds * 1000);
    const args = [keys.busyPrefix, keys.entryPrefix, storedAni, ttlMs, value, ...this.events.stored(pool, ani, Buffer.byteLength(value))];
    for (let attempt = 0; ; attempt += 1) {
      const [outcome, dnis] = (await this.call(() => scripts.ctiAllocate.run(this.redis, scriptKeys, args))) as [ScriptReply, string?];
      if (outcome === ScriptReply.OK) return dnis as string;
      if (outcome === ScriptReply.POOL_EXHAUSTED) throw new PoolExhaustedError(`pool "${pool.name}" is exhausted: every number is in use for this caller`);
      // Redis lost the pool (restart without persistence, FLUSHALL): put it back once.
      if (attempt > 0) throw new RedisUnavailableError(`pool "${pool.name}" could not be set up in Redis`);
      await this.sync([pool]);
    }
  }

  /** Fetches the entry stored under `<dnis>:<storedAni>`; `ani` is the caller's number as asked, for the event. */
  get(pool: CtiPool, dnis: string, ani: string, storedAni: string): Promise<string | null> {
    const entry = `${this.poolKeys(pool).entryPrefix}${dnis}:${storedAni}`;
    const args = this.events.fetched(pool, dnis, ani, false);
    return this.call(async () => (await scripts.ctiFetch.run(this.redis, [entry, this.keys.eventLog], args)) as string | null);
  }

  /** Fetches and deletes the entry atomically, releasing its lease on the DNIS. */
  take(pool: CtiPool, dnis: string, ani: string, storedAni: string): Promise<string | null> {
    const keys = this.poolKeys(pool);
    const scriptKeys = [`${keys.entryPrefix}${dnis}:${storedAni}`, keys.busyPrefix + dnis, this.keys.eventLog];
    const args = [storedAni === '' ? '1' : '0', ...this.events.fetched(pool, dnis, ani, true)];
    return this.call(async () => (await scripts.ctiRelease.run(this.redis, scriptKeys, args)) as string | null);
  }

  /** Numbers of the pool with at least one live lease. */
  async inUse(pool: CtiPool): Promise<number> {
    const keys = this.poolKeys(pool);
    return (await this.call(() => scripts.ctiPoolStatus.run(this.redis, [keys.order], [keys.busyPrefix]))) as number;
  }

  private poolKeys(pool: CtiPool): PoolKeys {
    let keys = this.keysByPool.get(pool);
    if (!keys) {
      keys = this.keys.ctiPool(pool.name);
      this.keysByPool.set(pool, keys);
    }
    return keys;
  }

  /** Stops the deadline sweep; calls still pending settle with their commands. */
  close(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  /**
   * Connection trouble and slowness become a 503; a script error stays a bug (500). Deadlines are
   * checked by one sweep for all calls (a timer per call, as src/core/deadline.ts's withDeadline
   * sets, or node-redis's per-command timeout with its AbortSignal, costs the hot path), so a call
   * fails at most a quarter of the timeout late.
   */
  private call<T>(command: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const pending: PendingCall = { deadline: performance.now() + this.timeoutMs, reject };
      this.pending.add(pending);
      command().then(
        (value) => {
          this.pending.delete(pending);
          resolve(value);
        },
        (error: unknown) => {
          this.pending.delete(pending);
          const known = error instanceof SwitchboardError || error instanceof ErrorReply;
          reject(known ? error : new RedisUnavailableError(`redis unavailable: ${describeError(error)}`, { cause: error }));
        },
      );
    });
  }

  private sweep(): void {
    const now = performance.now();
    for (const pending of this.pending) {
      if (pending.deadline > now) continue;
      this.pending.delete(pending);
      pending.reject(new RedisUnavailableError(`redis did not answer within ${this.timeoutMs} ms`));
    }
  }
}
