import { createHash } from 'node:crypto';
import { ConflictError, NotFoundError } from '../errors.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { leaseNode, parseLeaseValue } from './cluster/lease-value.js';
import type { Model } from './models.js';
import { ScriptReply, scripts } from '../redis/scripts.js';

/** A subscription as stored in the registry (`{whsub}`); `secret` never leaves the hub after creation. */
export interface SubscriptionDef {
  id: string;
  model: Model;
  postUrl: string;
  reseller: string;
  domain: string;
  user: string;
  geoSupport: 'yes' | 'no';
  preferredServer?: string;
  createdAt: string;
  expiresAt: string;
  /** Hash-tag slot of its lease and delivery keys, fixed at creation (spreads keys over a cluster). */
  slot: number;
  secret: string;
  /** The secret before the last rotation, still signing (beside the new one) until `previousSecretUntil`. */
  previousSecret?: string;
  previousSecretUntil?: string;
}

export type SubscriptionStatus = 'pending' | 'active' | 'error' | 'disabled';

/** Delivery state in the subscription's slot (`{wh:<slot>}`), written by the owner through FencedState. */
export interface SubscriptionState {
  /** Last event-log entry delivered (or moved to failed deliveries). */
  cursor: string;
  /** Bumped by operator changes; fences the owner's writes. */
  gen: string;
  status: SubscriptionStatus;
  posts: number;
  errors: number;
  exhausted: number;
  /** Failed attempts of the batch at the cursor, so a new owner resumes its retry schedule. */
  attempts: number;
  /** Redrive requests made, and the number the owner has carried out (the failed list was worked through). */
  redrive: number;
  redriveDone: number;
  lastError?: string;
  /** Last entry of the batch at the cursor whose first attempt was made (a successor rebuilds it). */
  batchEnd?: string;
}

export interface FailedDelivery {
  /** Entry id in the failed-deliveries stream. */
  id: string;
  failedAt: string;
  webhookId: string;
  reason: string;
  /** Event-log entries of the batch, in order. */
  entries: { seq: string; event: string }[];
}

export function identityOf(def: Pick<SubscriptionDef, 'model' | 'postUrl' | 'reseller' | 'domain' | 'user'>): string {
  return createHash('sha256').update(JSON.stringify([def.model, def.postUrl, def.reseller, def.domain, def.user])).digest('hex');
}

export function slotOf(id: string, slots: number): number {
  return createHash('sha256').update(id).digest().readUInt32BE(0) % slots;
}

type ChangeListener = (id: string) => void | Promise<void>;

/** Subscriptions in Redis: definitions and index in the registry, delivery state per slot. */
export class SubscriptionStore {
  private readonly listeners = new Set<ChangeListener>();

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
  ) {}

  /**
   * Called after every change made through this store (the owner may be this very node). The change
   * resolves once every listener has: on the owning node, an answered PUT means the next post
   * already uses what it changed (a rotated secret, say).
   */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async changed(id: string): Promise<void> {
    await Promise.all([...this.listeners].map((listener) => listener(id)));
  }

  async get(id: string): Promise<SubscriptionDef | undefined> {
    if (!/^[0-9a-f]{32}$/.test(id)) return undefined;
    const json = await this.redis.hGet(this.keys.webhookSubscription(id), 'def');
    return json ? (JSON.parse(json) as SubscriptionDef) : undefined;
  }

  async require(id: string): Promise<SubscriptionDef> {
    const def = await this.get(id);
    if (!def) throw new NotFoundError(`no subscription ${id}`);
    return def;
  }

  /** Every subscription, or those of one domain (`*` included only when asked for). */
  async list(domain?: string): Promise<SubscriptionDef[]> {
    const ids = await this.redis.sMembers(domain === undefined ? this.keys.webhookSubscriptionIds : this.keys.webhookDomainIndex(domain));
    return this.getMany(ids);
  }

  async getMany(ids: readonly string[]): Promise<SubscriptionDef[]> {
    const defs: SubscriptionDef[] = [];
    for (let start = 0; start < ids.length; start += 1000) {
      const chunk = ids.slice(start, start + 1000);
      const replies = await Promise.all(chunk.map((id) => this.redis.hGet(this.keys.webhookSubscription(id), 'def')));
      for (const json of replies) if (json) defs.push(JSON.parse(json) as SubscriptionDef);
    }
    return defs.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id));
  }

  /** Creates the delivery state (cursor at `cursor`) and then the definition; 409 when identical to another. */
  async create(def: SubscriptionDef, cursor: string): Promise<void> {
    const slot = this.keys.webhookSlot(def.slot);
    await this.redis.hSet(slot.state(def.id), { cursor, gen: '0', status: 'pending', posts: '0', errors: '0', exhausted: '0', attempts: '0', redrive: '0', redriveDone: '0' });
    const [reply, holder] = await this.save(def, '', def.domain);
    if (reply !== ScriptReply.OK) {
      await this.redis.del(slot.state(def.id));
      throw new ConflictError(`Subscription already exists: ${String(holder)}`);
    }
    await this.changed(def.id);
  }

  async update(def: SubscriptionDef, previous: SubscriptionDef): Promise<void> {
    const [reply, holder] = await this.save(def, identityOf(previous), previous.domain);
    if (reply === ScriptReply.NOT_FOUND) throw new NotFoundError(`no subscription ${def.id}`);
    if (reply !== ScriptReply.OK) throw new ConflictError(`Subscription already exists: ${String(holder)}`);
    await this.changed(def.id);
  }

  private async save(def: SubscriptionDef, oldIdentity: string, oldDomain: string): Promise<[ScriptReply, string?]> {
    const k = this.keys;
    return (await scripts.webhookSave.run(
      this.redis,
      [k.webhookSubscription(def.id), k.webhookIdentities, k.webhookSubscriptionIds, k.webhookDomainIndex(def.domain), k.webhookDomainIndex(oldDomain), k.webhookChanges],
      [def.id, JSON.stringify(def), identityOf(def), oldIdentity],
    )) as [ScriptReply, string?];
  }

  async delete(def: SubscriptionDef): Promise<void> {
    const k = this.keys;
    const removed = await scripts.webhookDelete.run(
      this.redis,
      [k.webhookSubscription(def.id), k.webhookIdentities, k.webhookSubscriptionIds, k.webhookDomainIndex(def.domain), k.webhookChanges],
      [def.id, identityOf(def)],
    );
    if (removed !== ScriptReply.OK) throw new NotFoundError(`no subscription ${def.id}`);
    const slot = k.webhookSlot(def.slot);
    await this.redis.del([slot.state(def.id), slot.failed(def.id), slot.lease(def.id)]);
    await this.changed(def.id);
  }

  async state(def: SubscriptionDef): Promise<SubscriptionState | undefined> {
    const hash = await this.redis.hGetAll(this.keys.webhookSlot(def.slot).state(def.id));
    if (!hash.cursor) return undefined;
    return {
      cursor: hash.cursor,
      gen: hash.gen ?? '0',
      status: (hash.status ?? 'pending') as SubscriptionStatus,
      posts: Number(hash.posts ?? 0),
      errors: Number(hash.errors ?? 0),
      exhausted: Number(hash.exhausted ?? 0),
      attempts: Number(hash.attempts ?? 0),
      redrive: Number(hash.redrive ?? 0),
      redriveDone: Number(hash.redriveDone ?? 0),
      ...(hash.lastError ? { lastError: hash.lastError } : {}),
      ...(hash.batchEnd ? { batchEnd: hash.batchEnd } : {}),
    };
  }

  /** The node delivering the subscription now (it holds the lease), if any. */
  async owner(def: SubscriptionDef): Promise<string | undefined> {
    const lease = parseLeaseValue(await this.redis.get(this.keys.webhookSlot(def.slot).lease(def.id)));
    return lease?.kind === 'held' ? lease.node : undefined;
  }

  /** Where each subscription is placed now: its lease holder, or the node it is being handed to. */
  async placedOn(defs: readonly SubscriptionDef[]): Promise<(string | undefined)[]> {
    const values = await Promise.all(defs.map((def) => this.redis.get(this.keys.webhookSlot(def.slot).lease(def.id))));
    return values.map((value) => leaseNode(parseLeaseValue(value)));
  }

  /**
   * An operator's change (webhookControl.lua): rewinds the cursor and/or sets the status (the owner
   * drops in-flight work and reloads), resets counters to 0 (NetSapiens), or asks for a redrive.
   */
  async control(
    def: SubscriptionDef,
    change: { cursor?: string; status?: SubscriptionStatus; resetPosts?: boolean; resetErrors?: boolean; redrive?: boolean },
  ): Promise<void> {
    const flag = (value: boolean | undefined) => (value ? '1' : '');
    const [reply] = (await scripts.webhookControl.run(
      this.redis,
      [this.keys.webhookSlot(def.slot).state(def.id)],
      [change.cursor ?? '', change.status ?? '', flag(change.resetPosts), flag(change.resetErrors), flag(change.redrive)],
    )) as [ScriptReply, number?];
    if (reply === ScriptReply.NOT_FOUND) throw new NotFoundError(`no subscription ${def.id}`);
    if (change.cursor !== undefined || change.status !== undefined || change.redrive) await this.announce(def.id);
  }

  async failedCount(def: SubscriptionDef): Promise<number> {
    return this.redis.xLen(this.keys.webhookSlot(def.slot).failed(def.id));
  }

  async failedDeliveries(def: SubscriptionDef, count = 1000): Promise<FailedDelivery[]> {
    const entries = await this.redis.xRange(this.keys.webhookSlot(def.slot).failed(def.id), '-', '+', { COUNT: count });
    return (entries ?? []).map((entry) => ({ id: entry.id, ...(JSON.parse(entry.message.batch ?? '{}') as Omit<FailedDelivery, 'id'>) }));
  }

  /** Asks the owner to deliver the failed deliveries again (they leave the list once delivered). */
  async requestRedrive(def: SubscriptionDef): Promise<number> {
    const count = await this.failedCount(def);
    await this.control(def, { redrive: true });
    return count;
  }

  /** The change feed's last entry (`0-0` when it is empty): a follower reads the changes after it. */
  async lastChange(): Promise<string> {
    const [last] = (await this.redis.xRevRange(this.keys.webhookChanges, '+', '-', { COUNT: 1 })) ?? [];
    return last?.id ?? '0-0';
  }

  /**
   * Changes after `position`, oldest first, each naming the subscription it touched (`id`; absent
   * from an entry the hub did not write): how a node learns of changes made through another node
   * (this store's own changes also call `onChange`).
   */
  async changesAfter(position: string, count = 1000): Promise<{ position: string; id: string | undefined }[]> {
    const entries = await this.redis.xRange(this.keys.webhookChanges, `(${position}`, '+', { COUNT: count });
    return (entries ?? []).map((entry) => ({ position: entry.id, id: entry.message.id }));
  }

  private async announce(id: string): Promise<void> {
    await this.redis.xAdd(this.keys.webhookChanges, '*', { id }, { TRIM: { strategy: 'MAXLEN', strategyModifier: '~', threshold: 10_000 } });
    await this.changed(id);
  }
}

/** Two definitions are the same when every field is, whatever the order their keys were written in. */
export function sameDefinition(a: SubscriptionDef, b: SubscriptionDef): boolean {
  const canonical = (def: SubscriptionDef) => JSON.stringify(Object.entries(def).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)));
  return canonical(a) === canonical(b);
}
