import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, REDIS_RETRY } from '../core/backoff.js';
import type { Logger } from 'pino';
import type { LogEntry } from './codec.js';
import { comparePositions, type LogReader } from './reader.js';
import { ThrottledWarnings } from '../warnings.js';

/** Receives log entries in order, each exactly once. */
export interface FeedConsumer {
  /**
   * Entries after the last ones delivered. While catching up the feed waits for the returned
   * promise before reading further (backpressure); live batches are not waited for.
   */
  deliver(entries: readonly LogEntry[]): void | Promise<void>;
}

export interface FeedSubscription {
  /** The last position delivered (or the starting position). */
  readonly position: string;
  readonly live: boolean;
  close(): void;
}

/** The parts of LogReader the feed reads with (test/unit/helpers/memory-log.ts is an in-memory one). */
export type FeedReader = Pick<LogReader, 'head' | 'after' | 'follow'>;

export interface LogFeedOptions {
  /** Reader on a connection of its own: it blocks. */
  live: FeedReader;
  /** Reader for catch-up ranges (shared, non-blocking). */
  ranges: FeedReader;
  logger: Logger;
  blockMs?: number;
  /** Entries per catch-up read. */
  pageSize?: number;
}

const IDLE_CATCH_UP_MS = 100;

/**
 * One blocking read of the event log per hub process (the hub's context.feed, src/hub.ts), fanned
 * out to every consumer in memory: SSE clients, the live projection, the webhook dispatcher and
 * each relayed list. A live batch is handed to every consumer without waiting for any (a slow
 * consumer keeps its own buffer or falls back to catching up), so none can stall the others. A consumer starts at any position: it reads the log from
 * there in pages at its own pace, and joins the live fan-out once it reaches the feed's position
 * (checked in the same tick as its last read, so nothing falls in between).
 */
export class LogFeed {
  private readonly consumers = new Set<Subscription>();
  private readonly stop = new AbortController();
  private head: string | undefined;
  private loop: Promise<void> = Promise.resolve();

  constructor(private readonly options: LogFeedOptions) {}

  /** The last position the feed handed out; undefined until it has read the log's head. */
  get position(): string | undefined {
    return this.head;
  }

  get consumerCount(): number {
    return this.consumers.size;
  }

  /** How many open subscriptions have a consumer of this kind (the SSE clients among the components' consumers). */
  countConsumers(kind: (consumer: FeedConsumer) => boolean): number {
    let count = 0;
    for (const subscription of this.consumers) if (kind(subscription.consumer)) count += 1;
    return count;
  }

  start(): void {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    const { live, blockMs = 1000 } = this.options;
    const warnings = new ThrottledWarnings(this.options.logger);
    const backoff = new Backoff(REDIS_RETRY);
    while (!this.stop.signal.aborted && this.head === undefined) {
      try {
        this.head = await live.head();
      } catch (error) {
        // Closing destroys the connection under the read: that is no failure to report.
        if (this.stop.signal.aborted) return;
        warnings.warn('log feed cannot read the event log yet; retrying', error);
        await backoff.wait(this.stop.signal);
      }
    }
    if (this.head === undefined) return;
    const onError = (error: Error) => {
      if (!this.stop.signal.aborted) warnings.warn('log feed cannot read the event log; retrying', error);
    };
    for await (const entries of live.follow(this.head, { signal: this.stop.signal, blockMs, onError })) {
      this.head = (entries.at(-1) as LogEntry).position;
      for (const consumer of this.consumers) consumer.offer(entries);
    }
  }

  /** Delivers every entry after `after` to `consumer`, in order, until closed. */
  subscribe(after: string, consumer: FeedConsumer): FeedSubscription {
    const subscription = new Subscription(this, after, consumer);
    this.consumers.add(subscription);
    subscription.catchUp().catch((error: unknown) => {
      this.options.logger.error({ err: error }, 'log feed consumer failed while catching up');
      subscription.close();
    });
    return subscription;
  }

  /** @internal */
  remove(subscription: Subscription): void {
    this.consumers.delete(subscription);
  }

  /** @internal */
  get ranges(): FeedReader {
    return this.options.ranges;
  }

  /** @internal */
  get pageSize(): number {
    return this.options.pageSize ?? 500;
  }

  /** @internal */
  get stopped(): boolean {
    return this.stop.signal.aborted;
  }

  /** Stops reading; the blocking client's close ends the last read. */
  async close(): Promise<void> {
    this.stop.abort();
    for (const consumer of this.consumers) consumer.close();
    await this.loop;
  }
}

class Subscription implements FeedSubscription {
  private closed = false;
  private isLive = false;

  constructor(
    private readonly feed: LogFeed,
    private current: string,
    readonly consumer: FeedConsumer,
  ) {}

  get position(): string {
    return this.current;
  }

  get live(): boolean {
    return this.isLive;
  }

  offer(entries: readonly LogEntry[]): void {
    if (!this.isLive || this.closed) return;
    const last = entries.at(-1) as LogEntry;
    if (comparePositions(last.position, this.current) <= 0) return;
    const fresh = comparePositions((entries[0] as LogEntry).position, this.current) > 0 ? entries : entries.filter((entry) => comparePositions(entry.position, this.current) > 0);
    this.current = last.position;
    void this.consumer.deliver(fresh);
  }

  async catchUp(): Promise<void> {
    const { ranges, pageSize } = this.feed;
    const backoff = new Backoff(REDIS_RETRY);
    while (!this.closed && !this.feed.stopped) {
      let page: LogEntry[];
      try {
        page = await ranges.after(this.current, pageSize);
        backoff.reset();
      } catch {
        // Redis away: the feed logs it; try again.
        await backoff.wait();
        continue;
      }
      if (this.closed) return;
      const head = this.feed.position;
      if (page.length > 0) {
        this.current = (page.at(-1) as LogEntry).position;
        await this.consumer.deliver(page);
        if (this.closed) return;
      }
      // Same tick as the check: every batch the feed hands out from now on is after `current`.
      if (page.length < pageSize && head !== undefined && comparePositions(this.feed.position ?? head, this.current) <= 0) {
        this.isLive = true;
        return;
      }
      if (page.length === 0) await sleep(IDLE_CATCH_UP_MS);
    }
  }

  close(): void {
    this.closed = true;
    this.feed.remove(this);
  }
}
