import type { Logger } from 'pino';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { handoverValue } from './lease-value.js';
import type { NodeRegistry, RegistrySnapshot } from './node-registry.js';
import { place, type Placement } from './placement.js';
import { ScriptReply, scripts } from '../../redis/scripts.js';
import type { SubscriptionDef, SubscriptionStore } from '../store.js';
import { ThrottledWarnings } from '../../warnings.js';

export type OwnerChangeReason = 'failover' | 'rebalance' | 'preferred' | 'shutdown';

export interface OwnerChange {
  from: string;
  to: string;
  reason: OwnerChangeReason;
}

export interface OwnershipEvents {
  /** The subscription is ours; `token` fences every write to its state. */
  acquired(def: SubscriptionDef, token: string): void;
  /** The lease is lost (refused renewal or write, or not renewed in time): stop at once. */
  lost(id: string): void;
  /** A planned handover: stop new batches and let the in-flight post finish and be recorded. */
  drain(id: string): Promise<void>;
  /** This node took the subscription over from another. */
  ownerChanged(def: SubscriptionDef, change: OwnerChange): void;
}

export interface OwnershipOptions {
  redis: RedisClient;
  keys: Keys;
  logger: Logger;
  nodeId: string;
  ttlMs: number;
  stableAfterMs: number;
  registry: NodeRegistry;
  store: SubscriptionStore;
  /** Every subscription, or undefined until they are loaded. */
  subscriptions(): readonly SubscriptionDef[] | undefined;
  events: OwnershipEvents;
}

interface Held {
  def: SubscriptionDef;
  token: string;
  renewedAt: number;
  draining: boolean;
}

/** The latest view of the cluster this node acted on. */
export interface OwnershipView {
  registry: RegistrySnapshot;
  placement: Placement;
}

/** Ms until another node's heartbeat runs out or it turns eligible (plus a little, so Redis agrees), if any. */
function nextChange(registry: RegistrySnapshot, self: string): number | undefined {
  let soonest: number | undefined;
  for (const node of registry.nodes) {
    if (node.id === self) continue;
    for (const at of [node.expiresAt, node.eligibleAt]) {
      if (at > registry.now && (soonest === undefined || at < soonest)) soonest = at;
    }
  }
  return soonest === undefined ? undefined : soonest - registry.now + 25;
}

/**
 * Which subscriptions this node delivers. Every ttl/3 it heartbeats in the node registry, renews
 * its leases, computes the placement (src/webhooks/cluster/placement.ts) from what Redis shows, hands over
 * what the plan moves elsewhere (drain, then release through the fenced handover script) and
 * takes what the plan gives it. Only an expired lease is ever taken without a handover.
 */
export class Ownership {
  private readonly held = new Map<string, Held>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private readonly warnings: ThrottledWarnings;
  private latest: OwnershipView | undefined;
  private registry: RegistrySnapshot | undefined;
  private readonly handovers = new Set<Promise<void>>();
  /** Time to the next registry change the placement depends on: a node turning eligible or expiring. */
  private nextChangeInMs: number | undefined;

  constructor(private readonly options: OwnershipOptions) {
    this.warnings = new ThrottledWarnings(options.logger);
  }

  get ownedCount(): number {
    return this.held.size;
  }

  get view(): OwnershipView | undefined {
    return this.latest;
  }

  /**
   * This node's standing: registered, eligible (stable), the time left before it is, and whether
   * it takes subscriptions now (eligible, or no live node is).
   */
  standing(): { registered: boolean; eligible: boolean; eligibleInMs: number; takesSubscriptions: boolean; liveNodes: number } {
    const snapshot = this.registry;
    const me = snapshot?.nodes.find((node) => node.id === this.options.nodeId);
    if (!snapshot || !me) {
      return { registered: false, eligible: false, eligibleInMs: this.options.stableAfterMs, takesSubscriptions: false, liveNodes: snapshot?.nodes.length ?? 0 };
    }
    const eligibleInMs = Math.max(0, me.eligibleAt - snapshot.now);
    const takesSubscriptions = this.latest?.placement.eligible.includes(this.options.nodeId) ?? false;
    return { registered: true, eligible: eligibleInMs === 0, eligibleInMs, takesSubscriptions, liveNodes: snapshot.nodes.length };
  }

  start(): void {
    this.schedule(0);
  }

  /** Something changed (a subscription appeared, the registry loaded): place it now, not at the next tick. */
  nudge(): void {
    if (this.stopped) return;
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
        if (this.stopped) return;
        const again = this.again;
        this.again = false;
        // Beat every third of the ttl, and act right when another node expires or turns eligible.
        const heartbeat = Math.max(50, Math.floor(this.options.ttlMs / 3));
        this.schedule(again ? 0 : Math.min(heartbeat, this.nextChangeInMs ?? heartbeat));
      });
    }, delayMs);
  }

  /**
   * Planned shutdown: leave the registry first (nobody plans anything more here), then drain and
   * hand over every subscription, so the next owners continue without a duplicate.
   */
  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.ticking;
    await Promise.all(this.handovers);
    await this.options.registry.leave().catch(() => undefined);
    await Promise.all([...this.held.keys()].map((id) => this.handover(id, '', 'shutdown')));
  }

  /** A fenced write was refused: the lease is not ours any more. */
  forget(id: string): void {
    this.drop(id, 'a fenced write was refused');
  }

  private drop(id: string, reason: string): void {
    if (!this.held.delete(id)) return;
    this.options.logger.warn({ subscription: id, reason }, 'webhook subscription lease lost; it stops here');
    this.options.events.lost(id);
  }

  private async tick(): Promise<void> {
    const { nodeId, ttlMs } = this.options;
    const margin = Math.min(1000, ttlMs / 5);
    try {
      const [registry] = await Promise.all([this.options.registry.beat(), this.renew()]);
      this.registry = registry;
      this.nextChangeInMs = nextChange(registry, nodeId);
      const defs = this.options.subscriptions();
      if (defs === undefined || this.stopped) return;
      const placedOn = await this.options.store.placedOn(defs);
      const placement = place({
        now: registry.now,
        nodes: registry.nodes,
        subscriptions: defs.map((def, index) => ({
          id: def.id,
          preferredServer: def.preferredServer,
          owner: this.held.has(def.id) ? nodeId : placedOn[index],
        })),
      });
      this.latest = { registry, placement };
      for (const [id, held] of this.held) {
        const target = placement.target.get(id);
        if (held.draining || target === undefined || target === nodeId) continue;
        this.startHandover(id, target, target === held.def.preferredServer ? 'preferred' : 'rebalance');
      }
      const live = new Set(registry.nodes.map((node) => node.id));
      await Promise.all(
        defs.map((def, index) => {
          if (placement.target.get(def.id) !== nodeId || this.held.has(def.id)) return undefined;
          const owner = placedOn[index];
          if (owner === undefined || owner === nodeId) return this.acquire(def);
          // Its node is gone but its lease has not run out yet (renewed just after the heartbeat): look again soon.
          if (!live.has(owner)) this.nextChangeInMs = Math.min(this.nextChangeInMs ?? Infinity, 100);
          return undefined;
        }),
      );
    } catch (error) {
      if (!this.stopped) this.warnings.warn('webhook ownership tick failed', error);
    } finally {
      for (const [id, held] of this.held) {
        if (performance.now() - held.renewedAt > ttlMs - margin) this.drop(id, 'not renewed within the ttl');
      }
    }
  }

  private async renew(): Promise<void> {
    const { redis, keys, ttlMs } = this.options;
    await Promise.all(
      [...this.held].map(async ([id, held]) => {
        const reply = await scripts.webhookLeaseRenew.run(redis, [keys.webhookSlot(held.def.slot).lease(id)], [held.token, String(ttlMs)]).catch(() => undefined);
        if (this.held.get(id) !== held) return;
        if (reply === ScriptReply.OK) held.renewedAt = performance.now();
        else if (reply === ScriptReply.LEASE_NOT_HELD) this.drop(id, 'held by another token');
        // Not "held by another": after a Redis restart every lease is simply gone.
        else if (reply === ScriptReply.LEASE_EXPIRED) this.drop(id, 'expired: no lease in Redis any more (not renewed in time, or lost in a Redis restart)');
      }),
    );
  }

  private async acquire(def: SubscriptionDef): Promise<void> {
    const { redis, keys, nodeId, ttlMs, events, logger } = this.options;
    const slot = keys.webhookSlot(def.slot);
    const reply = (await scripts.webhookLeaseAcquire.run(redis, [slot.lease(def.id), slot.epoch, slot.state(def.id)], [nodeId, String(ttlMs), handoverValue(nodeId)])) as [
      number,
      string?,
      string?,
      string?,
    ];
    if (reply[0] !== ScriptReply.OK || this.stopped || this.held.has(def.id)) return;
    const [, token = '', from = '', reason = 'failover'] = reply;
    this.held.set(def.id, { def, token, renewedAt: performance.now(), draining: false });
    logger.info({ subscription: def.id, token, from: from || undefined, reason: from ? reason : undefined }, 'webhook subscription acquired');
    events.acquired(def, token);
    if (from) events.ownerChanged(def, { from, to: nodeId, reason: reason as OwnerChangeReason });
  }

  private startHandover(id: string, to: string, reason: OwnerChangeReason): void {
    const handover = this.handover(id, to, reason).finally(() => this.handovers.delete(handover));
    this.handovers.add(handover);
  }

  /** Drains the subscription here, then releases its lease (reserved for `to`, or free). */
  private async handover(id: string, to: string, reason: OwnerChangeReason): Promise<void> {
    const held = this.held.get(id);
    if (!held || held.draining) return;
    held.draining = true;
    const { redis, keys, ttlMs, logger, events } = this.options;
    await events.drain(id);
    if (this.held.get(id) !== held) return;
    const slot = keys.webhookSlot(held.def.slot);
    try {
      await scripts.webhookHandover.run(redis, [slot.lease(id), slot.state(id)], [held.token, reason, to ? handoverValue(to) : '', String(ttlMs)]);
      logger.info({ subscription: id, to: to || undefined, reason }, 'webhook subscription handed over');
    } catch (error) {
      // The lease then expires: the next owner takes over as after a crash, from the same cursor.
      this.warnings.warn('webhook handover could not release the lease; it will expire', error, { subscription: id });
    }
    this.held.delete(id);
  }
}
