import { ErrorReply } from 'redis';
import { PoolExhaustedError, RedisUnavailableError, SwitchboardError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/scripts.js';
import type { CtiPool } from './pools.js';

export interface PoolStatus {
  /** Numbers with at least one live lease. */
  inUse: number;
  leases: number;
}

/** Counts what the store learns only inside Redis: leases that ran out without a DELETE. */
export type ExpiredListener = (pool: CtiPool, count: number) => void;

/**
 * The CTI entries and DNIS leases in Redis (see src/redis/lua/cti*.lua). Every pool lives under
 * its own hash tag; an entry is `<entryPrefix><dnis>:<ani>`, with ani "" for a withheld ANI.
 */
export class CtiStore {
  private readonly allocate = new LuaScript('ctiAllocate');
  private readonly release = new LuaScript('ctiRelease');
  private readonly poolStatus = new LuaScript('ctiPoolStatus');
  private readonly syncPool = new LuaScript('ctiSyncPool');

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly onExpired: ExpiredListener,
    /** A command unanswered after this long fails the request with 503. */
    private readonly timeoutMs: number,
  ) {}

  /** Writes the configured numbers of each pool to Redis (idempotent; every hub does it at start). */
  async sync(pools: Iterable<CtiPool>): Promise<void> {
    for (const pool of pools) await this.call(() => this.syncPool.run(this.redis, [this.keys.ctiPool(pool.name).order], pool.numbers));
  }

  /** Leases a DNIS for `ani` ("" leases it exclusively) and stores `value` under it; returns the DNIS. */
  async put(pool: CtiPool, ani: string, value: string): Promise<string> {
    const keys = this.keys.ctiPool(pool.name);
    const args = [keys.entryPrefix, ani, String(pool.ttlSeconds * 1000), value];
    for (let attempt = 0; ; attempt += 1) {
      const [outcome, dnis, expired] = (await this.call(() =>
        this.allocate.run(this.redis, [keys.leases, keys.usage, keys.order], args),
      )) as [string, string, number];
      if (expired > 0) this.onExpired(pool, expired);
      if (outcome === 'ok') return dnis;
      if (outcome === 'exhausted') throw new PoolExhaustedError(`pool "${pool.name}" is exhausted: every number is in use for this caller`);
      // Redis lost the pool (restart without persistence, FLUSHALL): put it back once.
      if (attempt > 0) throw new RedisUnavailableError(`pool "${pool.name}" could not be set up in Redis`);
      await this.sync([pool]);
    }
  }

  get(pool: CtiPool, dnis: string, ani: string): Promise<string | null> {
    return this.call(() => this.redis.get(this.keys.ctiPool(pool.name).entryPrefix + `${dnis}:${ani}`));
  }

  /** Fetches and deletes the entry atomically, releasing its lease. */
  take(pool: CtiPool, dnis: string, ani: string): Promise<string | null> {
    const keys = this.keys.ctiPool(pool.name);
    const member = `${dnis}:${ani}`;
    return this.call(
      async () => (await this.release.run(this.redis, [keys.leases, keys.usage, keys.entryPrefix + member], [member])) as string | null,
    );
  }

  /** Releases expired leases and reports the pool's use. */
  async status(pool: CtiPool): Promise<PoolStatus> {
    const keys = this.keys.ctiPool(pool.name);
    const [inUse, leases, expired] = (await this.call(() => this.poolStatus.run(this.redis, [keys.leases, keys.usage], []))) as [
      number,
      number,
      number,
    ];
    if (expired > 0) this.onExpired(pool, expired);
    return { inUse, leases };
  }

  /**
   * Connection trouble and slowness become a 503; a script error stays a bug (500). One timer per
   * call: node-redis's per-command timeout builds an AbortSignal each time, a hot-path cost.
   */
  private async call<T>(command: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RedisUnavailableError(`redis did not answer within ${this.timeoutMs} ms`)), this.timeoutMs);
    });
    try {
      return await Promise.race([command(), timeout]);
    } catch (error) {
      if (error instanceof SwitchboardError || error instanceof ErrorReply) throw error;
      throw new RedisUnavailableError(`redis unavailable: ${(error as Error).message}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
  }
}
