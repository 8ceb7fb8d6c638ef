import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { Backoff } from '../../core/backoff.js';
import type { WebhooksConfig } from '../../config/schema.js';
import { comparePositions, LogReader, positionTime, type UnreadableEntries } from '../../log/reader.js';
import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import { Batcher, type Batch } from './batcher.js';
import { FencedState, type AttemptRecord, type FencedOutcome } from './fenced-state.js';
import { SubscriptionFeed, type BatchEntry } from './feed.js';
import type { PostResult, WebhookSender } from './http.js';
import type { WebhookMetrics } from './metrics.js';
import { postBody, postHeaders, signingKeys } from './post.js';
import { StatusMachine, type StatusEvent } from './status-machine.js';
import type { SubscriptionDef, SubscriptionStore } from '../store.js';
import { ThrottledWarnings } from '../../warnings.js';

/** Capped above REDIS_RETRY: one worker runs per owned subscription, and all of them retry at once while Redis is away. */
const WORKER_REDIS_RETRY = { initialMs: 100, maxMs: 5000 };

export interface WorkerDeps {
  config: WebhooksConfig;
  /** Patient client for the worker's reads and fenced writes. */
  redis: RedisClient;
  keys: Keys;
  store: SubscriptionStore;
  logger: Logger;
  sender: WebhookSender;
  metrics: WebhookMetrics;
  /** Where the log's readers report entries that hold no readable event (they are skipped). */
  unreadable: UnreadableEntries;
  /** Last log entry the live reader has handed out. */
  head(): string;
  emit(def: SubscriptionDef, event: StatusEvent): void;
  /** The generation changed or the subscription vanished: reload it. */
  stale(id: string): void;
  /** A fenced write found the subscription's lease held by someone else. */
  leaseLost(id: string): void;
}

/**
 * Delivers one subscription while this node holds its lease: one batch at a time, in log order,
 * each attempt signed and recorded through the fenced state. Reading is the feed's, cutting
 * batches the batcher's, the retry and status rules the status machine's; this class runs them.
 */
export class SubscriptionWorker {
  /** Aborts the in-flight post: only for an abrupt stop (lease lost, change, shutdown timeout). */
  private readonly abort = new AbortController();
  /** Cuts a retry wait short: a drain posts nothing more. */
  private readonly pause = new AbortController();
  private stopped = false;
  private draining = false;
  private fenced: FencedState | undefined;
  private feed: SubscriptionFeed | undefined;
  private inFlight: Batch | undefined;
  private done: Promise<void> = Promise.resolve();
  private readonly url: URL;
  private readonly log: Logger;
  private readonly warnings: ThrottledWarnings;
  private readonly machine: StatusMachine;

  constructor(
    readonly def: SubscriptionDef,
    private readonly token: string,
    private readonly deps: WorkerDeps,
  ) {
    this.url = new URL(def.postUrl);
    this.log = deps.logger.child({ subscription: def.id, lease: token });
    this.warnings = new ThrottledWarnings(this.log);
    this.machine = new StatusMachine(deps.config);
  }

  start(): void {
    this.done = this.run().catch((error: unknown) => this.log.error({ err: error }, 'webhook worker failed'));
  }

  /** Stops at once: aborts the in-flight post; the durable cursor is where a successor resumes. */
  stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.pause.abort();
    this.feed?.close();
    return this.done;
  }

  /**
   * A planned handover: no new batch, no further retry; the in-flight post may finish within
   * `boundMs` and its outcome is recorded (the cursor saved) before this resolves.
   */
  async drain(boundMs: number): Promise<void> {
    this.draining = true;
    this.pause.abort();
    this.feed?.close();
    const finished = await Promise.race([this.done.then(() => true), sleep(boundMs, false)]);
    if (!finished) {
      this.log.warn({ boundMs }, 'in-flight webhook post did not finish within the drain bound; aborted');
      await this.stop();
    }
    this.stopped = true;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The generation of the state this worker runs on (undefined while it loads). */
  get generation(): string | undefined {
    return this.fenced?.state.gen;
  }

  /** Redrive requests this worker has seen (undefined while it loads). */
  get redriveRequests(): number | undefined {
    return this.fenced?.state.redrive;
  }

  offer(entry: BatchEntry): void {
    this.feed?.offer(entry);
  }

  /** Seconds since the oldest event this subscription has not delivered yet was accepted. */
  lagSeconds(now = Date.now()): number {
    const oldest = this.inFlight?.advanceTo === undefined ? this.feed?.oldest?.position : this.inFlight.entries[0]?.position;
    return oldest === undefined ? 0 : Math.max(0, (now - positionTime(oldest)) / 1000);
  }

  private halted(): boolean {
    return this.stopped || this.draining;
  }

  private expired(): boolean {
    return Date.parse(this.def.expiresAt) <= Date.now();
  }

  private async run(): Promise<void> {
    const { config, store, redis, keys } = this.deps;
    const state = await this.retry('load state', () => store.state(this.def));
    if (!state || this.halted() || state.status === 'disabled' || this.expired()) return;
    const fenced = (this.fenced = new FencedState(redis, keys, this.def, this.token, state));
    // A redrive survives restarts: it counts as done only once the whole failed list was worked through.
    const redriveTarget = state.redrive > state.redriveDone ? state.redrive : undefined;
    const redrive = redriveTarget === undefined ? [] : ((await this.retry('load failed deliveries', () => store.failedDeliveries(this.def))) ?? []);
    const feed = (this.feed = new SubscriptionFeed(
      {
        def: this.def,
        log: new LogReader(redis, keys.eventLog, this.deps.unreadable),
        maxPendingEvents: config.maxPendingEvents,
        head: this.deps.head,
        retry: (what, operation) => this.retry(what, operation),
        failed: (error) => {
          this.log.error({ err: error }, 'webhook catch-up failed; restarting the subscription');
          void this.stop();
          this.deps.stale(this.def.id);
        },
      },
      state.cursor,
    ));
    if (this.halted()) return;
    feed.start();
    const batcher = new Batcher(feed, {
      subscriptionId: this.def.id,
      generation: state.gen,
      maxEvents: config.batchMaxEvents,
      lingerMs: config.batchLingerMs,
      resumeEnd: state.batchEnd !== undefined && comparePositions(state.batchEnd, state.cursor) > 0 ? state.batchEnd : undefined,
      redrive,
    });
    // The first batch at the cursor continues the previous owner's retry schedule.
    let resumeAttempts = state.attempts;
    while (!this.halted() && fenced.state.status !== 'disabled' && !this.expired()) {
      if (redriveTarget !== undefined && batcher.redrivePending === 0 && state.redriveDone < redriveTarget) {
        if (!(await this.write('record the redrive as done', () => fenced.redriveDone(redriveTarget)))) return;
      }
      const batch = batcher.nextRedriven() ?? (await batcher.next(() => this.halted()));
      if (!batch) return;
      if (batch.failedId === undefined && !(await this.write('open a batch', () => fenced.openBatch(batch)))) return;
      this.inFlight = batch;
      await this.deliver(batch, batch.failedId === undefined ? resumeAttempts : 0);
      if (batch.failedId === undefined) resumeAttempts = 0;
      this.inFlight = undefined;
    }
  }

  private async deliver(batch: Batch, priorAttempts: number): Promise<void> {
    const { sender, metrics } = this.deps;
    const body = postBody(this.def, batch);
    const keys = signingKeys(this.def);
    for (let attempt = priorAttempts + 1; !this.halted(); attempt += 1) {
      const result = await sender.post(this.url, postHeaders(this.def, batch, body, keys), body, this.abort.signal);
      if (this.stopped) return;
      metrics.posts.inc({ outcome: result.ok ? 'ok' : 'error' });
      if (result.ok) {
        metrics.eventsDelivered.inc(batch.entries.length);
        await this.succeeded(batch);
        return;
      }
      this.log.info({ attempt, status: result.status, error: result.error, webhookId: batch.webhookId }, 'webhook post failed');
      if (!result.gone && this.machine.outOfAttempts(attempt)) {
        await this.exhausted(batch, result, attempt);
        return;
      }
      if (!(await this.failed(batch, result, result.gone ? 0 : attempt)) || this.halted()) return;
      metrics.retries.inc();
      await sleep(this.machine.retryDelay(attempt, result), undefined, { signal: this.pause.signal }).catch(() => undefined);
      if (this.halted()) return;
    }
  }

  private async succeeded(batch: Batch): Promise<void> {
    const state = this.fenced?.state;
    if (!state) return;
    const transition = this.machine.succeeded(state.status);
    if (await this.record(batch, { outcome: 'ok', status: transition.status, cursor: batch.advanceTo, exhausted: 0, attempts: 0 })) this.announce(transition.events);
  }

  /** Records a failed attempt. Returns false when the worker must stop (disabled, or the write was refused). */
  private async failed(batch: Batch, result: PostResult, attempts: number): Promise<boolean> {
    const state = this.fenced?.state;
    if (!state) return false;
    const transition = this.machine.failed(state.status, result);
    if (!(await this.record(batch, { outcome: 'error', status: transition.status, exhausted: state.exhausted, lastError: result.error, attempts }))) return false;
    this.announce(transition.events);
    return transition.status !== 'disabled';
  }

  /** The retry window is over: the batch goes to the failed deliveries, the cursor moves past it. */
  private async exhausted(batch: Batch, result: PostResult, attempts: number): Promise<void> {
    const state = this.fenced?.state;
    if (!state) return;
    const exhaustedBatches = state.exhausted + 1;
    const transition = this.machine.exhausted(exhaustedBatches, attempts, result, batch.entries.length);
    const failedEntry =
      batch.failedId === undefined
        ? { failedAt: new Date().toISOString(), webhookId: batch.webhookId, reason: transition.reason, entries: batch.entries.map((entry) => ({ seq: entry.position, event: entry.json })) }
        : undefined;
    const recorded = await this.record(batch, {
      outcome: 'error',
      status: transition.status,
      cursor: batch.advanceTo,
      failedEntry,
      exhausted: exhaustedBatches,
      lastError: result.error,
      attempts: 0,
    });
    if (!recorded) return;
    this.deps.metrics.failedBatches.inc();
    this.log.warn({ attempts, events: batch.entries.length, webhookId: batch.webhookId }, 'webhook batch moved to failed deliveries');
    this.announce(transition.events);
  }

  private announce(events: readonly StatusEvent[]): void {
    for (const event of events) this.deps.emit(this.def, event);
  }

  private record(batch: Batch, change: AttemptRecord): Promise<boolean> {
    const fenced = this.fenced;
    return fenced ? this.write('record a delivery attempt', () => fenced.record(batch, change)) : Promise.resolve(false);
  }

  /** A fenced write, retried while Redis is unreachable; a refusal stops the worker. */
  private async write(what: string, operation: () => Promise<FencedOutcome>): Promise<boolean> {
    const outcome = await this.retry(what, operation);
    if (outcome === 'ok') return true;
    if (outcome === 'lease-lost') this.deps.leaseLost(this.def.id);
    else if (outcome === 'stale') this.deps.stale(this.def.id);
    this.stopped = true;
    return false;
  }

  /** Runs a Redis operation until it succeeds or the worker stops (Redis may be restarting). */
  private async retry<T>(what: string, operation: () => Promise<T>): Promise<T | undefined> {
    const backoff = new Backoff(WORKER_REDIS_RETRY);
    while (!this.stopped) {
      try {
        return await operation();
      } catch (error) {
        this.warnings.warn(`webhook worker could not ${what}; retrying`, error);
        await backoff.wait(this.abort.signal);
      }
    }
    return undefined;
  }
}
