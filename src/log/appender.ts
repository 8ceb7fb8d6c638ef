import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { ShuttingDownError } from '../errors.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { Metrics } from '../metrics.js';
import type { RedisClient } from '../redis/client.js';
import type { Acceptance, EventLogWriter } from './event-log.js';
import type { Spool } from './spool.js';

export interface AppendOutcome {
  /** Events whose id was already in the dedup window (known only when written to Redis directly). */
  duplicates: number;
  /** True when the events were fsynced to the local spool rather than written to Redis. */
  spooled: boolean;
}

interface PendingAppend {
  acceptances: Acceptance[];
  resolve: (outcome: AppendOutcome) => void;
  reject: (error: Error) => void;
}

export interface AppenderOptions {
  client: RedisClient;
  writer: EventLogWriter;
  spool: Spool;
  metrics: Metrics;
  logger: Logger;
  /** A Redis write not answered within this time is treated as failed and spooled. */
  writeTimeoutMs: number;
  drainBatchEvents: number;
  drainRetryMs: number;
}

/** Events per Redis call: large enough to amortise round trips, small enough not to stall Redis. */
const MAX_EVENTS_PER_WRITE = 2000;
const DRAIN_WRITE_TIMEOUT_MS = 30_000;

/**
 * The single writer that makes accepted events durable, in acceptance order.
 *
 * Appends queue up while a write is in flight and go out together (group commit). A write goes to
 * Redis only while the spool is empty; otherwise, or when Redis fails or is too slow, it goes to
 * the spool, so nothing accepted later overtakes something spooled earlier. The spool drains in
 * order as soon as Redis answers. Replays are safe: the append script skips ids it has seen.
 */
export class Appender {
  private readonly options: AppenderOptions;
  private queue: PendingAppend[] = [];
  private flushing: Promise<void> | undefined;
  private draining: Promise<void> | undefined;
  private closed = false;
  private readonly onReady = () => this.startDrain();

  constructor(options: AppenderOptions) {
    this.options = options;
    options.client.on('ready', this.onReady);
    options.metrics.spoolDepth.set(options.spool.depth);
    this.startDrain();
  }

  get spoolDepth(): number {
    return this.options.spool.depth;
  }

  append(events: AcceptedEvent[]): Promise<AppendOutcome> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the hub is shutting down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ acceptances: events.map((event) => ({ event, token: randomUUID() })), resolve, reject });
      this.flushing ??= this.flush().finally(() => {
        this.flushing = undefined;
      });
    });
  }

  /** Stops taking appends, finishes queued ones and gives the spool `timeoutMs` to drain. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    await this.flushing;
    if (this.draining) await Promise.race([this.draining, sleep(timeoutMs)]);
    this.options.client.off('ready', this.onReady);
  }

  private async flush(): Promise<void> {
    while (this.queue.length > 0) {
      await this.write(this.takeBatch());
    }
  }

  private takeBatch(): PendingAppend[] {
    let events = 0;
    let count = 0;
    while (count < this.queue.length && (count === 0 || events + (this.queue[count]?.acceptances.length ?? 0) <= MAX_EVENTS_PER_WRITE)) {
      events += this.queue[count]?.acceptances.length ?? 0;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private async write(batch: PendingAppend[]): Promise<void> {
    const { client, spool, metrics, logger } = this.options;
    const acceptances = batch.flatMap((pending) => pending.acceptances);
    const events = acceptances.map((acceptance) => acceptance.event);

    if (spool.depth === 0 && client.isReady) {
      try {
        const entryIds = await withTimeout(this.options.writer.append(client, acceptances), this.options.writeTimeoutMs);
        let offset = 0;
        for (const pending of batch) {
          const ids = entryIds.slice(offset, offset + pending.acceptances.length);
          offset += pending.acceptances.length;
          pending.resolve({ duplicates: ids.filter((id) => id === null).length, spooled: false });
        }
        countAccepted(metrics, events, entryIds.filter((id) => id === null).length);
        return;
      } catch (error) {
        // The outcome is unknown (the script may have run): spool, and let the replay dedupe.
        metrics.redisWriteFailures.inc();
        logger.warn({ err: error, events: events.length }, 'event-log write failed; spooling');
      }
    }

    try {
      spool.push(acceptances);
    } catch (error) {
      for (const pending of batch) pending.reject(error as Error);
      return;
    }
    metrics.eventsSpooled.inc(events.length);
    metrics.spoolDepth.set(spool.depth);
    countAccepted(metrics, events, 0);
    for (const pending of batch) pending.resolve({ duplicates: 0, spooled: true });
    this.startDrain();
  }

  private startDrain(): void {
    if (this.draining || this.options.spool.depth === 0) return;
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      // Events spooled while the last batch was in flight.
      if (this.options.client.isReady) this.startDrain();
    });
  }

  private async drain(): Promise<void> {
    const { client, spool, writer, metrics, logger } = this.options;
    logger.info({ depth: spool.depth }, 'draining the spool into Redis');
    while (spool.depth > 0) {
      if (!client.isReady) return; // resumes on the client's next 'ready'
      const batch = spool.peek(this.options.drainBatchEvents);
      const last = batch.at(-1);
      if (!last) return;
      try {
        // No client waits on the drain, so a slow Redis gets more time before the batch is retried.
        await withTimeout(writer.append(client, batch), DRAIN_WRITE_TIMEOUT_MS);
      } catch (error) {
        logger.warn({ err: error }, 'spool drain write failed; retrying');
        await sleep(this.options.drainRetryMs);
        continue;
      }
      spool.remove(last.seq);
      metrics.eventsDrained.inc(batch.length);
      metrics.spoolDepth.set(spool.depth);
    }
    logger.info('spool drained');
  }
}

function countAccepted(metrics: Metrics, events: readonly AcceptedEvent[], duplicates: number): void {
  const byType = new Map<string, number>();
  for (const event of events) byType.set(event.type, (byType.get(event.type) ?? 0) + 1);
  for (const [type, count] of byType) metrics.eventsAccepted.inc({ type }, count);
  if (duplicates > 0) metrics.eventsDuplicate.inc(duplicates);
}

function withTimeout<T>(promise: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
