import type { AcceptedEvent } from '../../events/catalogue.js';
import type { LogEntry } from '../../log/codec.js';
import { comparePositions, readableEvent, type LogReader } from '../../log/reader.js';
import { ANY_TENANT, eventTenant, withinTenant } from '../../events/tenant.js';
import { modelsForEvent, modelsForType } from '../models.js';
import type { SubscriptionDef } from '../store.js';

/**
 * One event-log entry as a batch holds it: its position (a post's `seq`), the event JSON exactly
 * as stored, and its type where the log gave it (a redriven failed delivery keeps only the JSON).
 */
export type BatchEntry = Pick<LogEntry, 'position' | 'json'> & Partial<Pick<LogEntry, 'type'>>;

export function subscriptionMatches(def: SubscriptionDef, event: AcceptedEvent): boolean {
  return modelsForEvent(event).includes(def.model) && withinTenant(eventTenant(event), def, ANY_TENANT);
}

/** Wakes async loops waiting for more work; each waiter gives up after its own timeout. */
export class Signal {
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

export interface FeedOptions {
  def: SubscriptionDef;
  /** Only `after` is read (an in-memory log stands in for it in test/unit). */
  log: Pick<LogReader, 'after'>;
  maxPendingEvents: number;
  /** Last log entry the dispatcher's live reader has handed out. */
  head(): string;
  /** Runs a Redis read until it succeeds, or undefined once the worker stops. */
  retry<T>(what: string, operation: () => Promise<T>): Promise<T | undefined>;
  /** Catch-up broke on something other than Redis being away. */
  failed(error: unknown): void;
}

/**
 * The matched log entries of one subscription, in log order, not yet taken into a batch. They
 * arrive live from the dispatcher (`offer`) or, when the subscription is behind (start, replay, a
 * backlog beyond `maxPendingEvents`), from the feed's own reads of the log from its position.
 */
export class SubscriptionFeed {
  private pending: BatchEntry[] = [];
  private readPos: string;
  private live = false;
  private closed = false;
  private readonly more = new Signal();
  private readonly room = new Signal();

  constructor(
    private readonly options: FeedOptions,
    from: string,
  ) {
    this.readPos = from;
  }

  /** Starts reading the log from the starting position until the live position is reached. */
  start(): void {
    this.startCatchUp();
  }

  close(): void {
    this.closed = true;
    this.more.notify();
    this.room.notify();
  }

  get size(): number {
    return this.pending.length;
  }

  /** The oldest entry not taken yet. */
  get oldest(): BatchEntry | undefined {
    return this.pending[0];
  }

  /** Every matched entry up to `seq` has been read (the feed's position is at or past it). */
  hasRead(seq: string): boolean {
    return comparePositions(this.readPos, seq) >= 0;
  }

  /** The dispatcher hands out a matching live entry; ignored while this feed catches up. */
  offer(entry: BatchEntry): void {
    if (!this.live || this.closed || comparePositions(entry.position, this.readPos) <= 0) return;
    if (this.pending.length >= this.options.maxPendingEvents) {
      // Too far behind to buffer: read the log from here on our own, at our own pace.
      this.live = false;
      this.startCatchUp();
      return;
    }
    this.pending.push(entry);
    this.readPos = entry.position;
    this.more.notify();
  }

  /** Removes and returns up to `max` entries (only those up to `upTo` when given). */
  take(max: number, upTo?: string): BatchEntry[] {
    let count = Math.min(max, this.pending.length);
    if (upTo !== undefined) {
      const beyond = this.pending.findIndex((entry) => comparePositions(entry.position, upTo) > 0);
      if (beyond !== -1) count = Math.min(count, beyond);
    }
    const entries = this.pending.splice(0, count);
    this.room.notify();
    return entries;
  }

  /** Resolves when entries arrive (or the read position moves), after `timeoutMs`, or on close. */
  waitForMore(timeoutMs?: number): Promise<void> {
    return this.more.wait(timeoutMs);
  }

  private startCatchUp(): void {
    this.catchUp().catch((error: unknown) => this.options.failed(error));
  }

  /** Reads the log from `readPos` until it reaches the dispatcher's live position, then goes live. */
  private async catchUp(): Promise<void> {
    const { log, maxPendingEvents } = this.options;
    while (!this.closed && !this.live) {
      if (this.pending.length >= maxPendingEvents) {
        await this.room.wait(1000);
        continue;
      }
      const reply = await this.options.retry('read the event log', () => log.after(this.readPos, CATCH_UP_PAGE));
      if (!reply || this.closed || this.live) return;
      for (const entry of reply) {
        if (this.matches(entry)) this.pending.push({ position: entry.position, json: entry.json, type: entry.type });
        this.readPos = entry.position;
      }
      if (reply.length > 0) this.more.notify();
      // Same tick as the reply: nothing the dispatcher handed out since can fall in between.
      if (reply.length < CATCH_UP_PAGE && comparePositions(this.options.head(), this.readPos) <= 0) this.live = true;
    }
  }

  private matches(entry: LogEntry): boolean {
    if (modelsForType(entry.type).length === 0) return false;
    // An unreadable entry is skipped: the reader counted and logged it.
    const event = readableEvent(entry);
    return event !== undefined && subscriptionMatches(this.options.def, event);
  }
}
