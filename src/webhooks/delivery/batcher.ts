import { comparePositions } from '../../log/reader.js';
import type { BatchEntry, SubscriptionFeed } from './feed.js';
import { batchMessageId } from './signing.js';
import type { FailedDelivery } from '../store.js';

/** What the batcher reads from: a subscription's matched entries (SubscriptionFeed). */
export type BatchSource = Pick<SubscriptionFeed, 'size' | 'oldest' | 'hasRead' | 'take' | 'waitForMore'>;

export interface Batch {
  entries: BatchEntry[];
  webhookId: string;
  /** Cursor after a success: the last log entry of the batch (absent for a redriven batch). */
  advanceTo?: string;
  /** Set for a redriven failed delivery: deleted from the failed list once delivered. */
  failedId?: string;
}

export interface BatcherOptions {
  subscriptionId: string;
  generation: string;
  maxEvents: number;
  lingerMs: number;
  /**
   * Last entry of the batch the previous owner had opened at the cursor: the first batch ends
   * exactly there, so it is the same batch with the same `webhook-id`.
   */
  resumeEnd?: string | undefined;
  /** Failed deliveries to deliver again first (a redrive). */
  redrive?: FailedDelivery[];
}

/**
 * Cuts a subscription's feed into batches of up to `maxEvents`, waiting up to `lingerMs` for a
 * batch to fill. A batch's `webhook-id` is derived from its bounds and the generation, so it is
 * the same on every attempt and for every owner that rebuilds it.
 */
export class Batcher {
  private resumeEnd: string | undefined;
  private readonly redrive: FailedDelivery[];

  constructor(
    private readonly feed: BatchSource,
    private readonly options: BatcherOptions,
  ) {
    this.resumeEnd = options.resumeEnd;
    this.redrive = [...(options.redrive ?? [])];
  }

  get redrivePending(): number {
    return this.redrive.length;
  }

  /** The next redriven failed delivery, if any is left. */
  nextRedriven(): Batch | undefined {
    const failed = this.redrive.shift();
    if (!failed) return undefined;
    return { entries: failed.entries.map((entry) => ({ position: entry.seq, json: entry.event })), webhookId: failed.webhookId, failedId: failed.id };
  }

  /** The next batch at the cursor, or undefined once `stopped()` says so. */
  async next(stopped: () => boolean): Promise<Batch | undefined> {
    const { maxEvents, lingerMs } = this.options;
    const resumeEnd = this.resumeEnd;
    if (resumeEnd !== undefined) {
      // Rebuild the batch the previous owner opened: everything matched up to its last entry.
      while (!stopped() && !this.feed.hasRead(resumeEnd)) await this.feed.waitForMore(1000);
      if (stopped()) return undefined;
      this.resumeEnd = undefined;
      const oldest = this.feed.oldest;
      if (oldest !== undefined && comparePositions(oldest.position, resumeEnd) <= 0) return this.cut(this.feed.take(maxEvents, resumeEnd));
    }
    while (!stopped() && this.feed.size === 0) await this.feed.waitForMore();
    if (this.feed.size < maxEvents && lingerMs > 0) {
      const until = performance.now() + lingerMs;
      while (!stopped() && this.feed.size < maxEvents && performance.now() < until) await this.feed.waitForMore(until - performance.now());
    }
    if (stopped()) return undefined;
    return this.cut(this.feed.take(maxEvents));
  }

  private cut(entries: BatchEntry[]): Batch {
    const first = entries[0]?.position ?? '';
    const last = entries.at(-1)?.position ?? '';
    return { entries, webhookId: batchMessageId(this.options.subscriptionId, this.options.generation, first, last), advanceTo: last };
  }
}
