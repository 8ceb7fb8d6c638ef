import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { withDeadline } from '../core/deadline.js';
import { ShuttingDownError, SpoolFailedError, SpoolFullError } from '../errors.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { Metrics } from '../metrics.js';
import type { RedisClient } from '../redis/client.js';
import type { RedisFaults } from '../redis/faults.js';
import type { Keys } from '../redis/keys.js';
import type { ReadinessReport } from '../server/health.js';
import type { Acceptance, EventLogWriter, Fence } from './event-log.js';
import { ThrottledWarnings } from '../warnings.js';
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

/** A batch sent to Redis: straight from intake, or from the spool (then `lastSeq` is its last row). */
interface Write {
  acceptances: Acceptance[];
  result: Promise<{ entryIds: (string | null)[]; replicasAcked: number }>;
  pending?: PendingAppend[];
  lastSeq?: number;
}

/**
 * What the appender needs of Redis: its own connection's readiness (told when it reconnects) and
 * one batch appended through appendEvents.lua, optionally followed by WAIT on the same connection.
 * `redisAppendTransport` is the real one; test/unit/helpers/append-transport.ts keeps the log in
 * memory and fails or stalls on command, so the appender's ordering can be tested in milliseconds.
 */
export interface AppendTransport {
  readonly isReady: boolean;
  onReady(listener: () => void): void;
  offReady(listener: () => void): void;
  /** Per event, its log entry id, or null for a duplicate inside the dedup window. */
  append(acceptances: readonly Acceptance[], fence: Fence): Promise<(string | null)[]>;
  /** `append`, then how many of `replicas` replicas acknowledged it within `timeoutMs`. */
  appendThenWait(acceptances: readonly Acceptance[], fence: Fence, replicas: number, timeoutMs: number): Promise<{ entryIds: (string | null)[]; replicasAcked: number }>;
}

/** The log writer's own connection (no per-command timeout, pinned to one master) and the append script. */
export function redisAppendTransport(client: RedisClient, writer: EventLogWriter): AppendTransport {
  return {
    get isReady() {
      return client.isReady;
    },
    onReady: (listener) => client.on('ready', listener),
    offReady: (listener) => client.off('ready', listener),
    append: (acceptances, fence) => writer.append(client, acceptances, fence),
    appendThenWait: (acceptances, fence, replicas, timeoutMs) => writer.appendThenWait(client, acceptances, fence, replicas, timeoutMs),
  };
}

export interface AppenderOptions {
  transport: AppendTransport;
  /** Renders each accepted event for the log and the profiles' outputs. */
  writer: Pick<EventLogWriter, 'accept'>;
  spool: Spool;
  keys: Keys;
  metrics: Metrics;
  logger: Logger;
  /** Where Redis errors that retrying will not cure are reported (and cleared by a write that succeeds). */
  faults?: RedisFaults;
  /** Replicas that must acknowledge a batch (WAIT) before it counts as written; 0: the master's reply suffices. */
  minReplicasAcked?: number;
  /** How long WAIT waits for them; a batch short of them is spooled as well. */
  replicaAckTimeoutMs?: number;
  /** A Redis write not answered within this time is treated as failed and spooled. */
  writeTimeoutMs: number;
  drainBatchEvents: number;
  drainRetryMs: number;
}

/** Events per Redis call: large enough to amortise round trips, small enough not to stall Redis. */
const MAX_EVENTS_PER_WRITE = 2000;
/**
 * Batches pipelined on the connection; the script's fence keeps them in order. Intake keeps two
 * in flight (appends arriving meanwhile go out together next): more small calls cost Redis and
 * the event loop more per event than they save in waiting (npm run bench: 1 → 3.7k, 2 → 4.7k,
 * 4 → 3.0k single-event requests/s). The spool drain sends large batches and gains from four.
 */
const MAX_INTAKE_WRITES_IN_FLIGHT = 2;
const MAX_DRAIN_WRITES_IN_FLIGHT = 4;
/** No client waits on the drain, so a slow Redis gets more time before the batch is retried. */
const DRAIN_WRITE_TIMEOUT_MS = 30_000;

/**
 * The single writer that makes accepted events durable, in acceptance order.
 *
 * While the spool is empty and Redis is up, appends are sent straight to Redis (appends that
 * arrive while a batch is in flight go out together next). Each batch names its predecessor (the
 * fence in appendEvents.lua), so once one fails nothing sent after it lands: that is what lets
 * the spool drain pipeline its batches.
 * A failed batch goes to the spool, and so does everything after it until the spool has drained,
 * oldest first, through the same pipeline. Nothing accepted later overtakes something spooled
 * earlier. Replays are safe: the append script skips ids it has seen.
 */
export class Appender {
  private readonly options: AppenderOptions;
  private readonly fenceKey: string;
  private queue: PendingAppend[] = [];
  private readonly inFlight: Write[] = [];
  private settling: Promise<void> = Promise.resolve();
  private batchCounter = 0;
  /** Id of the last batch sent on the current chain; '' starts a new one. */
  private chainTail = '';
  /** Last spool row sent on the current chain. */
  private drainedUpTo = 0;
  /** A write failed: send nothing until every write in flight has settled, then start a new chain. */
  private broken = false;
  /**
   * Spool rows the drain wrote that too few replicas confirmed: they stay in the spool. A later
   * drain batch confirmed on the same connection covers them too (WAIT counts every earlier write
   * of its connection), so its removal takes them along; a reconnect in between re-drains them.
   */
  private unconfirmedRows = false;
  /**
   * Set while batches fall short of `minReplicasAcked` (the last answer of WAIT), cleared by a
   * batch the replicas confirm: it is why the spool does not drain although Redis answers.
   */
  private replicaShortfall: { replicasAcked: number; since: string } | undefined;
  /** The one pending drain retry while the drain is paused. */
  private drainRetry: NodeJS.Timeout | undefined;
  private closed = false;
  private idleWaiters: (() => void)[] = [];
  /** Writes fail, and the drain retries every `drainRetryMs`, while Redis is away: one warning per 30 s of each says so. */
  private readonly warnings: ThrottledWarnings;
  private readonly onReady = () => {
    // A new connection: WAIT there does not cover writes made on the old one.
    if (this.unconfirmedRows) this.broken = true;
    this.pump();
  };

  constructor(options: AppenderOptions) {
    this.options = options;
    this.warnings = new ThrottledWarnings(options.logger);
    this.fenceKey = options.keys.writerFence(randomUUID());
    options.transport.onReady(this.onReady);
    options.metrics.spoolDepth.set(options.spool.depth);
    this.pump();
  }

  get spoolDepth(): number {
    return this.options.spool.depth;
  }

  /**
   * The spool's part of /readyz: not ready while it holds events, and why. With Redis answering
   * but too few replicas confirming (a Cluster master promoted after a failover has no replica
   * left), "waiting for Redis" would point the wrong way: the message names the shortfall and
   * what to change.
   */
  spoolReadiness(): ReadinessReport {
    const depth = this.spoolDepth;
    if (depth === 0) return { name: 'spool', ok: true, depth };
    const shortfall = this.replicaShortfall;
    if (!shortfall) return { name: 'spool', ok: false, depth, message: `${depth} events spooled, waiting for Redis` };
    const { minReplicasAcked = 0, replicaAckTimeoutMs = 0 } = this.options;
    const hint =
      'the master of the event log has fewer replicas in sync than redis.minReplicasAcked (after a failover the promoted replica may have none left): ' +
      'give it a replica (Cluster: redis-cli --cluster add-node <new node> <any node> --cluster-slave; Sentinel: a redis-server with --replicaof <master>), ' +
      'or lower redis.minReplicasAcked (SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED). Nothing is lost: the spool drains once a replica confirms';
    return {
      name: 'spool',
      ok: false,
      depth,
      replicasAcked: shortfall.replicasAcked,
      minReplicasAcked,
      shortSince: shortfall.since,
      message: `${depth} events spooled: Redis takes the writes, but ${shortfall.replicasAcked} of the ${minReplicasAcked} replicas redis.minReplicasAcked requires confirm them within ${replicaAckTimeoutMs} ms (since ${shortfall.since}); ${hint}`,
      hint,
    };
  }

  append(events: AcceptedEvent[]): Promise<AppendOutcome> {
    if (this.closed) return Promise.reject(new ShuttingDownError('the hub is shutting down'));
    return new Promise((resolve, reject) => {
      this.queue.push({ acceptances: events.map((event) => this.options.writer.accept(event)), resolve, reject });
      this.pump();
    });
  }

  /** Stops taking appends, settles queued and in-flight ones, and gives the spool `timeoutMs` to drain. */
  async close(timeoutMs: number): Promise<void> {
    this.closed = true;
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length > 0 || this.inFlight.length > 0 || (this.spoolDepth > 0 && this.options.transport.isReady)) {
      if (Date.now() > deadline && this.queue.length === 0 && this.inFlight.length === 0) break;
      await new Promise<void>((resolve) => {
        this.idleWaiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    clearTimeout(this.drainRetry);
    this.options.transport.offReady(this.onReady);
  }

  /** Decides what to send or spool next; runs after every append, settlement and reconnect. */
  private pump(): void {
    const { spool, transport } = this.options;
    for (;;) {
      if (this.broken) {
        if (this.inFlight.length > 0) break;
        this.broken = false;
        this.unconfirmedRows = false;
        this.chainTail = '';
        this.drainedUpTo = 0;
      }
      const directInFlight = this.inFlight.some((write) => write.pending);
      if (spool.depth === 0 && transport.isReady) {
        if (this.queue.length === 0 || this.inFlight.length >= MAX_INTAKE_WRITES_IN_FLIGHT) break;
        const pending = this.takeBatch();
        this.send({ acceptances: pending.flatMap((append) => append.acceptances), pending }, this.options.writeTimeoutMs);
        continue;
      }
      // Durable path: behind any direct write still in flight, queued appends go to the spool…
      if (this.queue.length > 0) {
        if (directInFlight) break;
        this.spoolAppends(this.queue.splice(0));
        continue;
      }
      // …and the spool drains, oldest first, once Redis answers.
      if (!transport.isReady || this.drainRetry !== undefined || directInFlight || this.inFlight.length >= MAX_DRAIN_WRITES_IN_FLIGHT) break;
      const batch = spool.read(this.drainedUpTo, this.options.drainBatchEvents);
      if (!batch) {
        // Everything was sent, but the replicas confirmed the tail too late: send it again.
        if (this.unconfirmedRows && this.inFlight.length === 0) {
          this.broken = true;
          this.pauseDrain();
        }
        break;
      }
      this.drainedUpTo = batch.lastSeq;
      this.send(batch, DRAIN_WRITE_TIMEOUT_MS);
    }
    if (this.queue.length === 0 && this.inFlight.length === 0) {
      for (const wake of this.idleWaiters.splice(0)) wake();
    }
  }

  private takeBatch(): PendingAppend[] {
    let events = 0;
    let count = 0;
    while (count < this.queue.length) {
      const size = this.queue[count]?.acceptances.length ?? 0;
      if (count > 0 && events + size > MAX_EVENTS_PER_WRITE) break;
      events += size;
      count += 1;
    }
    return this.queue.splice(0, count);
  }

  private send(write: Omit<Write, 'result'>, timeoutMs: number): void {
    const id = String(++this.batchCounter);
    const fence = { key: this.fenceKey, previous: this.chainTail, id };
    this.chainTail = id;
    const { transport, minReplicasAcked = 0, replicaAckTimeoutMs = 0 } = this.options;
    const result =
      minReplicasAcked > 0
        ? withDeadline(transport.appendThenWait(write.acceptances, fence, minReplicasAcked, replicaAckTimeoutMs), timeoutMs + replicaAckTimeoutMs, 'Redis')
        : withDeadline(transport.append(write.acceptances, fence).then((entryIds) => ({ entryIds, replicasAcked: 0 })), timeoutMs, 'Redis');
    const sent: Write = { ...write, result };
    // Handled in `settle`, which may run after it fails; this only keeps it from counting as unhandled.
    sent.result.catch(() => {});
    this.inFlight.push(sent);
    // Settle strictly in send order, whatever order the promises complete in.
    this.settling = this.settling.then(() => this.settle(sent));
  }

  private async settle(write: Write): Promise<void> {
    const { metrics, logger, spool, faults, minReplicasAcked = 0 } = this.options;
    try {
      const { entryIds, replicasAcked } = await write.result;
      faults?.clear();
      const duplicates = entryIds.filter((id) => id === null).length;
      if (replicasAcked < minReplicasAcked) {
        metrics.replicaAckShortfalls.inc();
        this.shortOfReplicas(write, entryIds, replicasAcked);
        return;
      }
      if (this.replicaShortfall) {
        logger.info({ replicasAcked, minReplicasAcked, shortSince: this.replicaShortfall.since }, 'replicas confirm writes again');
        this.replicaShortfall = undefined;
      }
      if (write.pending) {
        let offset = 0;
        for (const pending of write.pending) {
          const ids = entryIds.slice(offset, offset + pending.acceptances.length);
          offset += pending.acceptances.length;
          pending.resolve({ duplicates: ids.filter((id) => id === null).length, spooled: false });
        }
        countAccepted(metrics, write.acceptances, duplicates);
      } else if (write.lastSeq !== undefined) {
        this.unconfirmedRows = false;
        spool.remove(write.lastSeq);
        metrics.eventsDrained.inc(write.acceptances.length);
        metrics.spoolDepth.set(spool.depth);
        if (spool.depth === 0) logger.info('spool drained');
      }
    } catch (error) {
      // The outcome is unknown (the script may have run): spool, and let the replay dedupe.
      this.broken = true;
      metrics.redisWriteFailures.inc();
      faults?.observe(error);
      if (write.pending) {
        this.warnings.warn('event-log write failed; spooling', error, { events: write.acceptances.length });
        this.spoolAppends(write.pending, { inDoubt: true });
      } else {
        this.warnings.warn('spool drain write failed; retrying', error, { events: write.acceptances.length, spoolDepth: spool.depth });
        this.pauseDrain();
      }
    } finally {
      this.inFlight.shift();
      this.pump();
    }
  }

  /**
   * The master took the batch but fewer replicas than `minReplicasAcked` confirmed it in time: a
   * failover now could lose it. Intake's batch goes to the spool as well (under a new acceptance
   * token, so the drain's re-append is dropped as a duplicate when Redis kept it, and delivers it
   * when Redis lost it); a drained batch stays in the spool and is drained again.
   */
  private shortOfReplicas(write: Write, entryIds: (string | null)[], replicasAcked: number): void {
    const { minReplicasAcked = 0, replicaAckTimeoutMs } = this.options;
    this.replicaShortfall = { replicasAcked, since: this.replicaShortfall?.since ?? new Date().toISOString() };
    // Every batch falls short while it lasts: one line per 30 s, counting the others.
    this.warnings.warn('replicas did not confirm the batch in time; spooling it as well', `${replicasAcked} of ${minReplicasAcked} replicas acknowledged within ${replicaAckTimeoutMs} ms`, {
      events: write.acceptances.length,
      replicasAcked,
      minReplicasAcked,
    });
    if (write.pending) {
      let offset = 0;
      const pending = write.pending.map((append) => {
        const ids = entryIds.slice(offset, offset + append.acceptances.length);
        offset += append.acceptances.length;
        const duplicates = ids.filter((id) => id === null).length;
        return { ...append, acceptances: append.acceptances.map((acceptance) => ({ ...acceptance, token: randomUUID() })), duplicates };
      });
      this.spoolAppends(pending);
    } else {
      // The rows stay; draining goes on (a later confirmed batch covers them) or starts over at the end.
      this.unconfirmedRows = true;
    }
  }

  /**
   * Spools appends and answers them; `duplicates` is known when Redis already answered for them.
   * `inDoubt`: a Redis write of these events failed without an answer, so it may still land; a
   * refusal then says so, since the client's retry is safe only with the same ids.
   */
  private spoolAppends(batch: (PendingAppend & { duplicates?: number })[], { inDoubt = false } = {}): void {
    const { spool, metrics } = this.options;
    const acceptances = batch.flatMap((pending) => pending.acceptances);
    try {
      spool.push(acceptances);
    } catch (error) {
      const refusal = inDoubt ? outcomeUnknown(error as Error) : (error as Error);
      for (const pending of batch) pending.reject(refusal);
      return;
    }
    metrics.eventsSpooled.inc(acceptances.length);
    metrics.spoolDepth.set(spool.depth);
    countAccepted(metrics, acceptances, batch.reduce((sum, pending) => sum + (pending.duplicates ?? 0), 0));
    for (const pending of batch) pending.resolve({ duplicates: pending.duplicates ?? 0, spooled: true });
  }

  /**
   * Pauses the drain for `drainRetryMs`. Every failed drain write asks for it, and writes can fail
   * at once (a Cluster node that is down rejects before anything is sent): one timer for all of
   * them, or each failure's retry would start a full set of writes again and the retries multiply.
   */
  private pauseDrain(): void {
    if (this.drainRetry) return;
    this.drainRetry = setTimeout(() => {
      this.drainRetry = undefined;
      this.pump();
    }, this.options.drainRetryMs).unref();
  }

}

/**
 * The spool refused events whose Redis write timed out: that write may still land (a stalled Redis
 * runs it when it resumes), so the 503 must not read as "not stored". The intake answer lists the
 * ids; a retry with them is deduplicated (docs/events.md, "Retries and 503").
 */
function outcomeUnknown(error: Error): Error {
  const message = `${error.message}; a Redis write of these events timed out first and may still be applied: they may be stored. Retry with the same ids (listed in error.ids): the dedup window makes that safe`;
  if (error instanceof SpoolFullError) return new SpoolFullError(message, { cause: error });
  if (error instanceof SpoolFailedError) return new SpoolFailedError(message, { cause: error });
  return error;
}

function countAccepted(metrics: Metrics, acceptances: readonly Acceptance[], duplicates: number): void {
  const byType = new Map<string, number>();
  for (const { type } of acceptances) byType.set(type, (byType.get(type) ?? 0) + 1);
  for (const [type, count] of byType) metrics.eventsAccepted.inc({ type }, count);
  if (duplicates > 0) metrics.eventsDuplicate.inc(duplicates);
}
