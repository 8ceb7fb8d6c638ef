import type { Logger } from 'pino';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/scripts.js';

export interface LeaseEvents {
  /** The slot is ours; `token` fences every write for its subscriptions. */
  acquired(slot: number, token: string): void;
  /** The slot is no longer ours (lost, expired locally, or released): stop its work at once. */
  lost(slot: number): void;
}

export interface LeaseManagerOptions {
  redis: RedisClient;
  keys: Keys;
  logger: Logger;
  nodeId: string;
  slots: number;
  ttlMs: number;
  events: LeaseEvents;
}

/**
 * Slot leases for subscription ownership (redis-and-style.md §A3): every ttl/3 the node renews
 * its heartbeat and its leases, takes free slots up to ⌈slots / live nodes⌉ and sheds slots above
 * target + 1. A slot whose renewal has not succeeded for ttl − margin by the local monotonic clock
 * is dropped even before Redis says so, so two owners overlap only briefly (duplicates, never loss).
 */
export class LeaseManager {
  private readonly acquireScript = new LuaScript('webhookLeaseAcquire');
  private readonly renewScript = new LuaScript('webhookLeaseRenew');
  private readonly releaseScript = new LuaScript('webhookLeaseRelease');
  private readonly beatScript = new LuaScript('webhookNodeBeat');
  private readonly held = new Map<number, { token: string; renewedAt: number }>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  private lastError: string | undefined;

  constructor(private readonly options: LeaseManagerOptions) {}

  get heldSlots(): number {
    return this.held.size;
  }

  start(): void {
    const loop = () => {
      if (this.stopped) return;
      this.ticking = this.tick().finally(() => {
        if (!this.stopped) this.timer = setTimeout(loop, Math.max(50, Math.floor(this.options.ttlMs / 3)));
      });
    };
    loop();
  }

  /** Stops renewing and releases every lease (after the caller stopped the slots' work). */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    const { redis, keys } = this.options;
    await Promise.all(
      [...this.held].map(([slot, { token }]) => this.releaseScript.run(redis, [keys.webhookSlot(slot).lease], [token]).catch(() => 0)),
    );
    this.held.clear();
    await redis.zRem(keys.nodes, this.options.nodeId).catch(() => 0);
  }

  /** A fenced write found the lease held by another token: stop the slot now, not at the next tick. */
  forget(slot: number): void {
    this.drop(slot, 'a fenced write was refused');
  }

  private drop(slot: number, reason: string): void {
    if (!this.held.delete(slot)) return;
    this.options.logger.warn({ slot, reason }, 'webhook slot lease lost; its subscriptions stop here');
    this.options.events.lost(slot);
  }

  private async tick(): Promise<void> {
    const { redis, keys, nodeId, slots, ttlMs, events, logger } = this.options;
    const margin = Math.min(1000, ttlMs / 5);
    try {
      const liveNodes = Number(await this.beatScript.run(redis, [keys.nodes], [nodeId, String(ttlMs)]));
      const target = Math.ceil(slots / Math.max(1, liveNodes));

      await Promise.all(
        [...this.held].map(async ([slot, lease]) => {
          const renewed = await this.renewScript.run(redis, [keys.webhookSlot(slot).lease], [lease.token, String(ttlMs)]).catch(() => undefined);
          if (renewed === 1) lease.renewedAt = performance.now();
          else if (renewed === 0) this.drop(slot, 'held by another token');
        }),
      );

      const unheld = Array.from({ length: slots }, (_, slot) => slot).filter((slot) => !this.held.has(slot));
      const holders = await Promise.all(unheld.map((slot) => redis.exists(keys.webhookSlot(slot).lease)));
      const free = unheld.filter((_, index) => holders[index] === 0).slice(0, Math.max(0, target - this.held.size));
      const tokens = await Promise.all(
        free.map((slot) => this.acquireScript.run(redis, [keys.webhookSlot(slot).lease, keys.webhookSlot(slot).epoch], [nodeId, String(ttlMs)])),
      );
      free.forEach((slot, index) => {
        const token = tokens[index];
        if (typeof token !== 'string' || this.stopped) return;
        this.held.set(slot, { token, renewedAt: performance.now() });
        events.acquired(slot, token);
      });

      for (const [slot, { token }] of [...this.held].slice(target + 1)) {
        this.drop(slot, 'rebalancing');
        await this.releaseScript.run(redis, [keys.webhookSlot(slot).lease], [token]);
      }
      this.lastError = undefined;
    } catch (error) {
      // One line per distinct failure, not one per tick while Redis is away.
      if ((error as Error).message !== this.lastError) logger.warn({ err: error }, 'webhook lease tick failed');
      this.lastError = (error as Error).message;
    } finally {
      for (const [slot, lease] of this.held) {
        if (performance.now() - lease.renewedAt > ttlMs - margin) this.drop(slot, 'not renewed within the ttl');
      }
    }
  }
}
