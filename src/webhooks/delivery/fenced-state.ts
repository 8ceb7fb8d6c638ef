import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { Batch } from './batcher.js';
import { ScriptReply, scripts } from '../../redis/scripts.js';
import type { FailedDelivery, SubscriptionDef, SubscriptionState, SubscriptionStatus } from '../store.js';

/** A fenced write: done, refused because the lease is not ours, or refused because the state moved on. */
export type FencedOutcome = 'ok' | 'lease-lost' | 'stale';

export interface AttemptRecord {
  outcome: 'ok' | 'error';
  status: SubscriptionStatus;
  /** New cursor (a success, or an exhausted batch moving to failed deliveries). */
  cursor?: string | undefined;
  /** Batch kept in the failed deliveries. */
  failedEntry?: Omit<FailedDelivery, 'id'> | undefined;
  exhausted: number;
  lastError?: string | undefined;
  /** Failed attempts so far of the batch at the cursor; 0 once the cursor moves. */
  attempts: number;
}

/**
 * Every write the owner of a subscription makes to its delivery state, each one script fenced by
 * the subscription's lease token and generation (keys share `{wh:<slot>}`). The in-memory copy
 * of the state changes only when Redis accepted the write.
 */
export class FencedState {
  private readonly lease: string;
  private readonly stateKey: string;
  private readonly failedKey: string;

  constructor(
    private readonly redis: RedisClient,
    keys: Keys,
    def: SubscriptionDef,
    private readonly token: string,
    readonly state: SubscriptionState,
  ) {
    const slot = keys.webhookSlot(def.slot);
    this.lease = slot.lease(def.id);
    this.stateKey = slot.state(def.id);
    this.failedKey = slot.failed(def.id);
  }

  /** One attempt's outcome: counters, status, cursor, failed-delivery bookkeeping, atomically. */
  async record(batch: Batch, change: AttemptRecord): Promise<FencedOutcome> {
    const state = this.state;
    // A redriven batch is not at the cursor: the cursor batch's attempt count stays as it was.
    const attempts = batch.failedId === undefined ? change.attempts : state.attempts;
    const reply = await scripts.webhookRecord.run(
      this.redis,
      [this.lease, this.stateKey, this.failedKey],
      [
        this.token,
        state.gen,
        change.outcome,
        change.cursor ?? '',
        change.status,
        change.failedEntry ? JSON.stringify(change.failedEntry) : '',
        change.outcome === 'ok' ? (batch.failedId ?? '') : '',
        String(change.exhausted),
        change.lastError ?? '',
        String(attempts),
      ],
    );
    const outcome = outcomeOf(reply);
    if (outcome === 'ok') {
      state.status = change.status;
      state.exhausted = change.exhausted;
      state.attempts = attempts;
      if (change.cursor !== undefined) {
        state.cursor = change.cursor;
        delete state.batchEnd;
      }
    }
    return outcome;
  }

  /** Before the first attempt of a batch at the cursor: its last entry, so a successor rebuilds the same batch. */
  async openBatch(batch: Batch): Promise<FencedOutcome> {
    if (batch.advanceTo === undefined || batch.advanceTo === this.state.batchEnd) return 'ok';
    const outcome = outcomeOf(await scripts.webhookFencedSet.run(this.redis, [this.lease, this.stateKey], [this.token, this.state.gen, 'batchEnd', batch.advanceTo]));
    if (outcome === 'ok') this.state.batchEnd = batch.advanceTo;
    return outcome;
  }

  /** The failed list was worked through for every redrive requested up to `requests`. */
  async redriveDone(requests: number): Promise<FencedOutcome> {
    const outcome = outcomeOf(await scripts.webhookFencedSet.run(this.redis, [this.lease, this.stateKey], [this.token, this.state.gen, 'redriveDone', String(requests)]));
    if (outcome === 'ok') this.state.redriveDone = requests;
    return outcome;
  }
}

function outcomeOf(reply: unknown): FencedOutcome {
  if (reply === ScriptReply.OK) return 'ok';
  if (reply === ScriptReply.LEASE_NOT_HELD) return 'lease-lost';
  if (reply === ScriptReply.STALE) return 'stale';
  throw new Error(`unexpected reply from a fenced webhook script: ${String(reply)}`);
}
