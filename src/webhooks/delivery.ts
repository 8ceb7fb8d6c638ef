import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { WebhooksConfig } from '../config/schema.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import type { LogEntry as StoredEntry } from '../log/codec.js';
import { comparePositions, LogReader } from '../log/reader.js';
import { LuaScript } from '../redis/scripts.js';
import type { PostResult, WebhookSender } from './http.js';
import { eventTenant, modelsForType } from './models.js';
import { batchMessageId, parseSecret, signatureHeader } from './signing.js';
import type { FailedDelivery, SubscriptionDef, SubscriptionState, SubscriptionStatus, SubscriptionStore } from './store.js';
import type { WebhookMetrics } from './metrics.js';

/** One event-log entry as a batch holds it: its position (`seq`) and the event JSON exactly as stored. */
export interface LogEntry {
  seq: string;
  raw: string;
}

interface Batch {
  entries: LogEntry[];
  webhookId: string;
  /** Cursor after a success: the last log entry of the batch (absent for a redriven batch). */
  advanceTo?: string;
  /** Set for a redriven failed delivery: deleted from the failed list once delivered. */
  failedId?: string;
}

export type OperationalEventType = 'subscription.error' | 'subscription.disabled' | 'subscription.recovered';

export interface WorkerDeps {
  config: WebhooksConfig;
  /** Patient client for the worker's reads and fenced writes. */
  redis: RedisClient;
  keys: Keys;
  store: SubscriptionStore;
  logger: Logger;
  sender: WebhookSender;
  metrics: WebhookMetrics;
  /** Last log entry the live reader has handed out (see `offer`). */
  head(): string;
  emit(type: OperationalEventType, def: SubscriptionDef, data: { status: SubscriptionStatus; reason?: string; failed_events?: number }): void;
  /** The generation changed or the subscription vanished: reload it. */
  stale(id: string): void;
  /** A fenced write found the slot lease held by someone else. */
  leaseLost(slot: number): void;
}

/** Wakes async loops waiting for more work; each waiter gives up after its own timeout. */
class Signal {
  private waiters = new Set<() => void>();

  wait(timeoutMs?: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, Math.max(0, timeoutMs));
      this.waiters.add(done);
    });
  }

  notify(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

const CATCH_UP_PAGE = 500;

export function subscriptionMatches(def: SubscriptionDef, event: AcceptedEvent): boolean {
  if (!modelsForType(event.type).includes(def.model)) return false;
  const tenant = eventTenant(event);
  return (
    (def.reseller === '*' || def.reseller === tenant.reseller) &&
    (def.domain === '*' || def.domain === tenant.domain) &&
    (def.user === '*' || def.user === tenant.user)
  );
}

/**
 * Delivers one subscription, one batch at a time, in log order. Matched entries arrive either
 * live from the dispatcher (`offer`) or, when the subscription is behind (start, replay, a
 * backlog beyond `maxPendingEvents`), from its own reads of the event log from its cursor. The
 * cursor advances only when a batch is answered 2xx (or, after the retry window, moves to the
 * failed deliveries), with every write fenced by the slot lease and the subscription generation.
 */
export class SubscriptionWorker {
  private readonly recordScript = new LuaScript('webhookRecord');
  private readonly abort = new AbortController();
  private readonly work = new Signal();
  private readonly room = new Signal();
  private pending: LogEntry[] = [];
  private inFlight: Batch | undefined;
  private redriveQueue: FailedDelivery[] = [];
  private readPos = '0-0';
  private live = false;
  private stopped = false;
  private state: SubscriptionState | undefined;
  private consecutiveFailures = 0;
  private cleanSince: number | undefined;
  private done: Promise<void> = Promise.resolve();
  private readonly url: URL;
  private readonly log: Logger;

  constructor(
    readonly def: SubscriptionDef,
    private readonly token: string,
    private readonly deps: WorkerDeps,
  ) {
    this.url = new URL(def.postUrl);
    this.log = deps.logger.child({ subscription: def.id, slot: def.slot, lease: token });
  }

  start(): void {
    this.done = this.run().catch((error: unknown) => this.log.error({ err: error }, 'webhook worker failed'));
  }

  /** Stops at once: aborts the in-flight POST; the durable cursor is where a successor resumes. */
  stop(): Promise<void> {
    this.stopped = true;
    this.abort.abort();
    this.work.notify();
    this.room.notify();
    return this.done;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** The generation of the state this worker runs on (undefined while it loads). */
  get generation(): string | undefined {
    return this.state?.gen;
  }

  /** Redrive requests this worker has seen (undefined while it loads). */
  get redriveRequests(): number | undefined {
    return this.state?.redrive;
  }

  /** The dispatcher hands out a matching live entry; ignored while this subscription catches up. */
  offer(entry: LogEntry): void {
    if (!this.live || this.stopped || comparePositions(entry.seq, this.readPos) <= 0) return;
    if (this.pending.length >= this.deps.config.maxPendingEvents) {
      // Too far behind to buffer: read the log from here on our own, at our own pace.
      this.live = false;
      this.startCatchUp();
      return;
    }
    this.pending.push(entry);
    this.readPos = entry.seq;
    this.work.notify();
  }

  /** Seconds since the oldest event this subscription has not delivered yet was accepted. */
  lagSeconds(now = Date.now()): number {
    const oldest = this.inFlight?.advanceTo === undefined ? this.pending[0]?.seq : this.inFlight.entries[0]?.seq;
    return oldest === undefined ? 0 : Math.max(0, (now - Number(oldest.split('-')[0])) / 1000);
  }

  private async run(): Promise<void> {
    const state = await this.retry('load state', () => this.deps.store.state(this.def));
    if (!state || this.stopped) return;
    this.state = state;
    if (state.status === 'disabled' || this.expired()) return;
    this.readPos = state.cursor;
    // A redrive survives restarts: it counts as done only once the whole failed list was worked through.
    const redriveTarget = state.redrive > state.redriveDone ? state.redrive : undefined;
    if (redriveTarget !== undefined) {
      this.redriveQueue = (await this.retry('load failed deliveries', () => this.deps.store.failedDeliveries(this.def))) ?? [];
    }
    this.startCatchUp();
    let resumeAttempts = state.attempts;
    while (!this.stopped && this.state.status !== 'disabled' && !this.expired()) {
      if (redriveTarget !== undefined && this.redriveQueue.length === 0 && state.redriveDone < redriveTarget) {
        const done = String(redriveTarget);
        await this.retry('record the redrive as done', () => this.deps.redis.hSet(this.deps.keys.webhookSlot(this.def.slot).state(this.def.id), 'redriveDone', done));
        state.redriveDone = redriveTarget;
      }
      const redriven = this.redriveQueue.shift();
      const batch = redriven
        ? { entries: redriven.entries.map((entry) => ({ seq: entry.seq, raw: entry.event })), webhookId: redriven.webhookId, failedId: redriven.id }
        : await this.nextBatch();
      if (!batch) return;
      this.inFlight = batch;
      // The first batch starts at the durable cursor: it continues the previous owner's schedule.
      await this.deliver(batch, batch.failedId === undefined ? resumeAttempts : 0);
      if (batch.failedId === undefined) resumeAttempts = 0;
      this.inFlight = undefined;
    }
  }

  private expired(): boolean {
    return Date.parse(this.def.expiresAt) <= Date.now();
  }

  /** Runs a Redis operation until it succeeds or the worker stops (Redis may be restarting). */
  private async retry<T>(what: string, operation: () => Promise<T>): Promise<T | undefined> {
    for (let delay = 100; !this.stopped; delay = Math.min(delay * 2, 5000)) {
      try {
        return await operation();
      } catch (error) {
        this.log.warn({ err: error }, `webhook worker could not ${what}; retrying`);
        await sleep(delay, undefined, { signal: this.abort.signal }).catch(() => undefined);
      }
    }
    return undefined;
  }

  private startCatchUp(): void {
    this.catchUp().catch((error: unknown) => {
      this.log.error({ err: error }, 'webhook catch-up failed; restarting the subscription');
      void this.stop();
      this.deps.stale(this.def.id);
    });
  }

  /** Reads the log from `readPos` until it reaches the dispatcher's live position, then goes live. */
  private async catchUp(): Promise<void> {
    const { redis, keys, config } = this.deps;
    const log = new LogReader(redis, keys.eventLog);
    while (!this.stopped && !this.live) {
      if (this.pending.length >= config.maxPendingEvents) {
        await this.room.wait(1000);
        continue;
      }
      const reply = await this.retry('read the event log', () => log.after(this.readPos, CATCH_UP_PAGE));
      if (!reply || this.stopped || this.live) return;
      const before = this.pending.length;
      for (const entry of reply) {
        if (this.matches(entry)) this.pending.push({ seq: entry.position, raw: entry.json });
        this.readPos = entry.position;
      }
      if (this.pending.length > before) this.work.notify();
      // Same tick as the reply: nothing the dispatcher handed out since can fall in between.
      if (reply.length < CATCH_UP_PAGE && comparePositions(this.deps.head(), this.readPos) <= 0) this.live = true;
    }
  }

  private matches(entry: StoredEntry): boolean {
    if (modelsForType(entry.type).length === 0) return false;
    try {
      return subscriptionMatches(this.def, entry.event);
    } catch (error) {
      this.log.error({ err: error, seq: entry.position }, 'unreadable event-log entry skipped');
      return false;
    }
  }

  private async nextBatch(): Promise<Batch | undefined> {
    const { batchMaxEvents: max, batchLingerMs: linger } = this.deps.config;
    while (!this.stopped && this.pending.length === 0) await this.work.wait();
    if (this.pending.length < max && linger > 0) {
      const until = performance.now() + linger;
      while (!this.stopped && this.pending.length < max && performance.now() < until) await this.work.wait(until - performance.now());
    }
    if (this.stopped) return undefined;
    const entries = this.pending.splice(0, max);
    this.room.notify();
    const first = entries[0]?.seq ?? '';
    const last = entries.at(-1)?.seq ?? '';
    return { entries, webhookId: batchMessageId(this.def.id, this.state?.gen ?? '0', first, last), advanceTo: last };
  }

  private signingKeys(): Buffer[] {
    const keys = [parseSecret(this.def.secret)];
    if (this.def.previousSecret && this.def.previousSecretUntil && Date.parse(this.def.previousSecretUntil) > Date.now()) {
      keys.push(parseSecret(this.def.previousSecret));
    }
    return keys;
  }

  private async deliver(batch: Batch, priorAttempts: number): Promise<void> {
    const { config, sender, metrics } = this.deps;
    const model = JSON.stringify(this.def.model);
    // Model object = the logged envelope plus `model` and `seq`, spliced in without re-serialising.
    const body = `[${batch.entries.map((entry) => `{"model":${model},"seq":"${entry.seq}",${entry.raw.slice(1)}`).join(',')}]`;
    const keys = this.signingKeys();
    for (let attempt = priorAttempts + 1; !this.stopped; attempt += 1) {
      const timestamp = Math.floor(Date.now() / 1000);
      const headers = {
        'content-type': 'application/json',
        'user-agent': 'Switchboard-Webhooks/0.1',
        'x-correlation-id': this.def.id,
        'webhook-id': batch.webhookId,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signatureHeader(keys, batch.webhookId, timestamp, body),
      };
      const result = await sender.post(this.url, headers, body, this.abort.signal);
      if (this.stopped) return;
      metrics.posts.inc({ outcome: result.ok ? 'ok' : 'error' });
      if (result.ok) {
        metrics.eventsDelivered.inc(batch.entries.length);
        await this.succeeded(batch);
        return;
      }
      this.log.info({ attempt, status: result.status, error: result.error, webhookId: batch.webhookId }, 'webhook post failed');
      if (result.gone) {
        await this.failed(batch, result, 0, 'disabled', 'the receiver answered 410 Gone');
        return;
      }
      if (attempt > config.retryScheduleMs.length) {
        await this.exhausted(batch, result, attempt);
        return;
      }
      if (!(await this.failed(batch, result, attempt))) return;
      metrics.retries.inc();
      await sleep(this.retryDelay(attempt, result), undefined, { signal: this.abort.signal }).catch(() => undefined);
    }
  }

  private retryDelay(attempt: number, result: PostResult): number {
    const { retryScheduleMs, retryJitter, throttleFloorMs } = this.deps.config;
    let delay = (retryScheduleMs[attempt - 1] ?? 0) * (1 + retryJitter * (2 * Math.random() - 1));
    if (result.throttled) delay = Math.max(delay, throttleFloorMs);
    if (result.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(result.retryAfterMs, 86_400_000));
    return delay;
  }

  private async succeeded(batch: Batch): Promise<void> {
    const state = this.state as SubscriptionState;
    this.consecutiveFailures = 0;
    let status: SubscriptionStatus = state.status;
    let recovered = false;
    if (status === 'pending') status = 'active';
    if (status === 'error') {
      this.cleanSince ??= Date.now();
      if (Date.now() - this.cleanSince >= this.deps.config.cleanIntervalMs) {
        status = 'active';
        recovered = true;
      }
    }
    if (!(await this.record(batch, { outcome: 'ok', status, cursor: batch.advanceTo, exhausted: 0 }))) return;
    if (recovered) this.deps.emit('subscription.recovered', this.def, { status, reason: 'posts succeeded for a clean interval' });
  }

  /** Records a failed attempt; a 410 (`status` disabled) or enough failures change the status. Returns false when the worker must stop. */
  private async failed(batch: Batch, result: PostResult, attempts: number, forced?: SubscriptionStatus, reason?: string): Promise<boolean> {
    const state = this.state as SubscriptionState;
    this.cleanSince = undefined;
    this.consecutiveFailures += 1;
    let status = forced ?? state.status;
    if (!forced && status !== 'error' && this.consecutiveFailures >= this.deps.config.errorAfterFailures) status = 'error';
    const changed = status !== state.status;
    if (!(await this.record(batch, { outcome: 'error', status, exhausted: state.exhausted, lastError: result.error, attempts }))) return false;
    if (changed && (status === 'error' || status === 'disabled')) {
      this.deps.emit(status === 'error' ? 'subscription.error' : 'subscription.disabled', this.def, {
        status,
        reason: reason ?? `${this.consecutiveFailures} consecutive failed posts, last: ${result.error ?? 'unknown'}`,
      });
    }
    return status !== 'disabled';
  }

  /** The retry window is over: the batch goes to the failed deliveries, the cursor moves past it. */
  private async exhausted(batch: Batch, result: PostResult, attempts: number): Promise<void> {
    const state = this.state as SubscriptionState;
    const exhaustedCount = state.exhausted + 1;
    const status: SubscriptionStatus = exhaustedCount >= this.deps.config.disableAfterExhaustedBatches ? 'disabled' : 'error';
    const reason = `${attempts} attempts failed, last: ${result.error ?? 'unknown'}`;
    const failedEntry =
      batch.failedId === undefined
        ? JSON.stringify({
            failedAt: new Date().toISOString(),
            webhookId: batch.webhookId,
            reason,
            entries: batch.entries.map((entry) => ({ seq: entry.seq, event: entry.raw })),
          } satisfies Omit<FailedDelivery, 'id'>)
        : undefined;
    const recorded = await this.record(batch, {
      outcome: 'error',
      status,
      cursor: batch.advanceTo,
      failedEntry,
      exhausted: exhaustedCount,
      lastError: result.error,
    });
    if (!recorded) return;
    this.deps.metrics.failedBatches.inc();
    this.log.warn({ attempts, events: batch.entries.length, webhookId: batch.webhookId }, 'webhook batch moved to failed deliveries');
    this.deps.emit('subscription.error', this.def, { status: 'error', reason: `batch moved to failed deliveries: ${reason}`, failed_events: batch.entries.length });
    if (status === 'disabled') {
      this.deps.emit('subscription.disabled', this.def, { status, reason: `${exhaustedCount} consecutive batches exhausted their retries` });
    }
  }

  /** Fenced write of one attempt's outcome (webhookRecord.lua); retried while Redis is unreachable. */
  private async record(
    batch: Batch,
    change: {
      outcome: 'ok' | 'error';
      status: SubscriptionStatus;
      cursor?: string | undefined;
      failedEntry?: string | undefined;
      exhausted: number;
      lastError?: string | undefined;
      /** Failed attempts so far of a batch that stays at the cursor; 0 once the cursor moves. */
      attempts?: number;
    },
  ): Promise<boolean> {
    const slot = this.deps.keys.webhookSlot(this.def.slot);
    const state = this.state as SubscriptionState;
    const reply = await this.retry('record a delivery attempt', () =>
      this.recordScript.run(
        this.deps.redis,
        [slot.lease, slot.state(this.def.id), slot.failed(this.def.id)],
        [
          this.token,
          state.gen,
          change.outcome,
          change.cursor ?? '',
          change.status,
          change.failedEntry ?? '',
          change.outcome === 'ok' ? (batch.failedId ?? '') : '',
          String(change.exhausted),
          change.lastError ?? '',
          // A redriven batch is not at the cursor: the cursor batch's count stays as it was.
          String(batch.failedId === undefined ? (change.attempts ?? 0) : state.attempts),
        ],
      ),
    );
    if (reply === 1) {
      state.status = change.status;
      state.exhausted = change.exhausted;
      if (batch.failedId === undefined) state.attempts = change.attempts ?? 0;
      if (change.cursor !== undefined) state.cursor = change.cursor;
      return true;
    }
    if (reply === -6) this.deps.leaseLost(this.def.slot);
    else if (reply === -2) this.deps.stale(this.def.id);
    this.stopped = true;
    return false;
  }
}
