import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Backoff, REDIS_RETRY } from '../../core/backoff.js';
import type { AcceptedEvent } from '../../events/catalogue.js';
import type { LogEntry } from '../../log/codec.js';
import type { FeedSubscription, LogFeed } from '../../log/feed.js';
import { readableEvent, type LogReader, type UnreadableEntries } from '../../log/reader.js';
import type { SubscriptionWorker, WorkerDeps } from './delivery.js';
import { ANY_TENANT, eventTenant, withinTenant, type Tenant } from '../../events/tenant.js';
import { modelsForEvent, modelsForType, type Model } from '../models.js';
import { sameDefinition, type SubscriptionDef, type SubscriptionStore } from '../store.js';
import { ThrottledWarnings } from '../../warnings.js';

const SEP = '\u0000';

/**
 * Subscriptions indexed by model, then by (domain, user) with `*` as its own bucket: an event
 * looks at four buckets per model it maps to, so subscriptions for other models, domains or users
 * cost nothing. Reseller, rarer and coarser, is checked on the few candidates.
 */
export class MatchIndex<T extends { def: SubscriptionDef }> {
  private readonly byModel = new Map<Model, Map<string, Set<T>>>();

  add(item: T): void {
    const { model, domain, user } = item.def;
    let buckets = this.byModel.get(model);
    if (!buckets) this.byModel.set(model, (buckets = new Map()));
    const key = domain + SEP + user;
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = new Set()));
    bucket.add(item);
  }

  delete(item: T): void {
    const { model, domain, user } = item.def;
    const buckets = this.byModel.get(model);
    const key = domain + SEP + user;
    const bucket = buckets?.get(key);
    if (!bucket?.delete(item) || bucket.size > 0) return;
    buckets?.delete(key);
    if (buckets?.size === 0) this.byModel.delete(model);
  }

  /** True when some subscription takes this event type at all (skips parsing events nobody wants). */
  wants(type: string): boolean {
    return modelsForType(type).some((model) => this.byModel.has(model));
  }

  /** Calls `visit` for every subscription the event matches. */
  match(event: AcceptedEvent, visit: (item: T) => void): void {
    const tenant = eventTenant(event);
    for (const model of modelsForEvent(event)) {
      const buckets = this.byModel.get(model);
      if (!buckets) continue;
      this.visitBucket(buckets, ANY_TENANT, ANY_TENANT, tenant, visit);
      if (tenant.user !== undefined) this.visitBucket(buckets, ANY_TENANT, tenant.user, tenant, visit);
      if (tenant.domain === undefined) continue;
      this.visitBucket(buckets, tenant.domain, ANY_TENANT, tenant, visit);
      if (tenant.user !== undefined) this.visitBucket(buckets, tenant.domain, tenant.user, tenant, visit);
    }
  }

  private visitBucket(buckets: Map<string, Set<T>>, domain: string, user: string, tenant: Tenant, visit: (item: T) => void): void {
    const bucket = buckets.get(domain + SEP + user);
    if (bucket) for (const item of bucket) if (withinTenant(tenant, item.def, ANY_TENANT)) visit(item);
  }
}

/** What the dispatcher asks of a worker it runs (SubscriptionWorker in the hub). */
export type DispatchedWorker = Pick<
  SubscriptionWorker,
  'def' | 'start' | 'stop' | 'drain' | 'offer' | 'lagSeconds' | 'isStopped' | 'generation' | 'redriveRequests'
>;

/** What a worker asks of the dispatcher that runs it. */
export type DispatcherHooks = Pick<WorkerDeps, 'head' | 'stale' | 'leaseLost'>;

export interface DispatcherOptions {
  logger: Logger;
  /** The registry's definitions, delivery state and change feed, read over the patient client. */
  store: Pick<SubscriptionStore, 'list' | 'get' | 'state' | 'lastChange' | 'changesAfter'>;
  /** The hub's follower of the event log (context.feed): the dispatcher is one of its consumers. */
  feed: Pick<LogFeed, 'subscribe'>;
  /** Reads the log's newest position once, at start: the feed is followed from there. */
  log: Pick<LogReader, 'head'>;
  /** Where entries that hold no readable event are reported (they are skipped). */
  unreadable: UnreadableEntries;
  pollIntervalMs: number;
  /** Builds the worker of an acquired subscription (started by the dispatcher). */
  worker(def: SubscriptionDef, token: string, hooks: DispatcherHooks): DispatchedWorker;
  /** A worker's write found the lease gone: ownership must drop it. */
  leaseLost(id: string): void;
  /** The set of subscriptions changed (one appeared, moved or vanished): place them again. */
  changed(): void;
}

/**
 * Takes the event log once for all subscriptions this node owns (from the hub's feed, from the
 * newest entry at start) and hands each entry to the workers it matches; a worker behind reads
 * the log on its own (src/webhooks/delivery/feed.ts). Owns the workers: one starts
 * when this node acquires the subscription's lease, and stops when the lease is lost, handed
 * over (drained) or the subscription changes.
 */
export class Dispatcher {
  private readonly defs = new Map<string, SubscriptionDef>();
  private readonly tokens = new Map<string, string>();
  private readonly workers = new Map<string, DispatchedWorker>();
  private readonly index = new MatchIndex<DispatchedWorker>();
  private readonly refreshing = new Map<string, Promise<void>>();
  private head = '0-0';
  private changesPos = '0-0';
  private ready = false;
  private stopped = false;
  private loops: Promise<void> = Promise.resolve();
  private subscription: FeedSubscription | undefined;
  private readonly warnings: ThrottledWarnings;

  constructor(private readonly options: DispatcherOptions) {
    this.warnings = new ThrottledWarnings(options.logger);
  }

  get ownedCount(): number {
    return this.workers.size;
  }

  /** Every subscription, once loaded. */
  subscriptions(): SubscriptionDef[] | undefined {
    return this.ready ? [...this.defs.values()] : undefined;
  }

  *lag(): Iterable<[string, number]> {
    const now = Date.now();
    for (const [id, worker] of this.workers) yield [id, worker.lagSeconds(now)];
  }

  /** Loads the registry, subscribes to the feed and starts the change-feed loop (retrying while Redis is away). */
  start(): void {
    this.loops = this.init().then(() => {
      if (this.stopped) return;
      // From the head read at init: a worker that went live on it misses nothing after it.
      this.subscription = this.options.feed.subscribe(this.head, { deliver: (entries) => this.deliver(entries) });
      return this.changesLoop();
    });
  }

  private async init(): Promise<void> {
    const { log, store } = this.options;
    const backoff = new Backoff(REDIS_RETRY);
    while (!this.stopped) {
      try {
        this.head = await log.head();
        this.changesPos = await store.lastChange();
        for (const def of await store.list()) this.defs.set(def.id, def);
        this.ready = true;
        for (const [id, token] of this.tokens) this.startOwned(id, token);
        this.options.changed();
        return;
      } catch (error) {
        // Stopping destroys the connection under the read: that is no failure to report.
        if (this.stopped) return;
        this.warnings.warn('webhook dispatcher cannot load subscriptions yet; retrying', error);
        await backoff.wait();
      }
    }
  }

  acquired(id: string, token: string): void {
    this.tokens.set(id, token);
    if (this.ready) this.startOwned(id, token);
  }

  /** The lease is gone: stop at once (the in-flight post is aborted). */
  lost(id: string): void {
    this.tokens.delete(id);
    const worker = this.workers.get(id);
    if (worker) void this.stopWorker(worker);
  }

  /** A planned handover: no new batch; the in-flight post finishes (within `boundMs`) and is recorded. */
  async drain(id: string, boundMs: number): Promise<void> {
    this.tokens.delete(id);
    const worker = this.workers.get(id);
    if (!worker) return;
    this.workers.delete(id);
    this.index.delete(worker);
    await worker.drain(boundMs);
  }

  private startOwned(id: string, token: string): void {
    const def = this.defs.get(id);
    // After stop nothing would stop the worker: a lease acquired as the node shuts down runs out.
    if (def && !this.stopped && !this.workers.has(id)) this.startWorker(def, token);
  }

  private startWorker(def: SubscriptionDef, token: string): void {
    const worker = this.options.worker(def, token, {
      head: () => this.head,
      stale: (id) => void this.refresh(id),
      leaseLost: (id) => this.options.leaseLost(id),
    });
    this.workers.set(def.id, worker);
    this.index.add(worker);
    worker.start();
  }

  private async stopWorker(worker: DispatchedWorker): Promise<void> {
    if (this.workers.get(worker.def.id) === worker) {
      this.workers.delete(worker.def.id);
      this.index.delete(worker);
    }
    await worker.stop();
  }

  /** Reloads one subscription after a change (here or on another node), one reload at a time per id. */
  refresh(id: string): Promise<void> {
    const previous = this.refreshing.get(id) ?? Promise.resolve();
    const next = previous.then(() => this.reload(id)).catch((error: unknown) => {
      this.warnings.warn('webhook subscription reload failed', error, { subscription: id });
    });
    this.refreshing.set(id, next);
    void next.finally(() => {
      if (this.refreshing.get(id) === next) this.refreshing.delete(id);
    });
    return next;
  }

  /** Restarts the worker from its durable cursor, unless nothing it depends on changed. */
  private async reload(id: string): Promise<void> {
    if (this.stopped) return;
    const def = await this.options.store.get(id);
    const worker = this.workers.get(id);
    if (def && worker && !worker.isStopped && sameDefinition(def, worker.def)) {
      const state = await this.options.store.state(def);
      // A worker still loading might have read the state before this change: restart it too.
      if (state && worker.generation === state.gen && worker.redriveRequests === state.redrive) return;
    }
    const known = this.defs.get(id);
    if (def) this.defs.set(id, def);
    else this.defs.delete(id);
    if (!def || !known || def.preferredServer !== known.preferredServer) this.options.changed();
    if (worker) await this.stopWorker(worker);
    const token = this.tokens.get(id);
    if (def && token && this.ready && !this.stopped && !this.workers.has(id)) this.startWorker(def, token);
  }

  /**
   * The feed's entries, in log order, each once. Synchronous: the workers' buffers take them (or
   * a worker too far behind drops back to reading the log itself), so the feed never waits here.
   */
  private deliver(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      // An unreadable entry is skipped (counted once under reader="webhooks"); the head moves past it.
      const event = this.index.wants(entry.type) || entry.type === '' ? readableEvent(entry, this.options.unreadable) : undefined;
      if (event) {
        // Position, JSON and type only: the parsed event is not kept in the subscriptions' buffers.
        const offered = { position: entry.position, json: entry.json, type: entry.type };
        this.index.match(event, (worker) => worker.offer(offered));
      }
      this.head = entry.position;
    }
  }

  /** Follows the registry's change feed, for changes made through other hub nodes. */
  private async changesLoop(): Promise<void> {
    const { store, pollIntervalMs } = this.options;
    while (!this.stopped) {
      await sleep(pollIntervalMs);
      try {
        const ids = new Set<string>();
        for (const change of await store.changesAfter(this.changesPos)) {
          if (change.id) ids.add(change.id);
          this.changesPos = change.position;
        }
        for (const id of ids) void this.refresh(id);
      } catch {
        // Redis away: the next tick tries again from the same position.
      }
    }
  }

  /** Stops every worker left (in-flight posts aborted); one stuck on an unreachable Redis is not waited for long. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.subscription?.close();
    const stopping = Promise.all([...this.workers.values()].map((worker) => this.stopWorker(worker)));
    await Promise.race([Promise.all([stopping, ...this.refreshing.values()]), sleep(1000)]);
  }

  /** Resolves when the loops have ended (after `stop`). */
  async ended(): Promise<void> {
    await this.loops;
  }
}
