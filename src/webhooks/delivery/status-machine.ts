import type { WebhooksConfig } from '../../config/schema.js';
import type { PostResult } from './http.js';
import type { SubscriptionStatus } from '../store.js';

export type StatusEventType = 'subscription.error' | 'subscription.disabled' | 'subscription.recovered';

export interface StatusEvent {
  type: StatusEventType;
  status: SubscriptionStatus;
  reason: string;
  failed_events?: number;
}

/** What one attempt's outcome changes: the status to record, and the events to append once recorded. */
export interface Transition {
  status: SubscriptionStatus;
  events: StatusEvent[];
}

type Settings = Pick<WebhooksConfig, 'errorAfterFailures' | 'cleanIntervalMs' | 'disableAfterExhaustedBatches' | 'retryScheduleMs' | 'retryJitter' | 'throttleFloorMs'>;

/**
 * The retry schedule and the status rules of one subscription (docs/webhooks.md, "Status"):
 * pending → active on the first 2xx; error after `errorAfterFailures` consecutive failures or an
 * exhausted batch; back to active after `cleanIntervalMs` of clean posts; disabled on a 410 or
 * after `disableAfterExhaustedBatches` exhausted batches in a row. No I/O: the worker records.
 */
export class StatusMachine {
  private consecutiveFailures = 0;
  private cleanSince: number | undefined;

  constructor(private readonly settings: Settings) {}

  succeeded(current: SubscriptionStatus, now = Date.now()): Transition {
    this.consecutiveFailures = 0;
    if (current === 'pending') return { status: 'active', events: [] };
    if (current !== 'error') return { status: current, events: [] };
    this.cleanSince ??= now;
    if (now - this.cleanSince < this.settings.cleanIntervalMs) return { status: current, events: [] };
    return { status: 'active', events: [{ type: 'subscription.recovered', status: 'active', reason: 'posts succeeded for a clean interval' }] };
  }

  failed(current: SubscriptionStatus, result: PostResult): Transition {
    this.cleanSince = undefined;
    this.consecutiveFailures += 1;
    if (result.gone) {
      return { status: 'disabled', events: current === 'disabled' ? [] : [{ type: 'subscription.disabled', status: 'disabled', reason: 'the receiver answered 410 Gone' }] };
    }
    if (current === 'error' || this.consecutiveFailures < this.settings.errorAfterFailures) return { status: current, events: [] };
    return {
      status: 'error',
      events: [{ type: 'subscription.error', status: 'error', reason: `${this.consecutiveFailures} consecutive failed posts, last: ${result.error ?? 'unknown'}` }],
    };
  }

  /** The batch has failed every scheduled attempt. */
  exhausted(exhaustedBatches: number, attempts: number, result: PostResult, events: number): Transition & { reason: string } {
    const reason = `${attempts} attempts failed, last: ${result.error ?? 'unknown'}`;
    const disabled = exhaustedBatches >= this.settings.disableAfterExhaustedBatches;
    return {
      status: disabled ? 'disabled' : 'error',
      reason,
      events: [
        { type: 'subscription.error', status: 'error', reason: `batch moved to failed deliveries: ${reason}`, failed_events: events },
        ...(disabled ? [{ type: 'subscription.disabled' as const, status: 'disabled' as const, reason: `${exhaustedBatches} consecutive batches exhausted their retries` }] : []),
      ],
    };
  }

  /** True when the attempt numbered `attempt` (1-based) was the last one the schedule allows. */
  outOfAttempts(attempt: number): boolean {
    return attempt > this.settings.retryScheduleMs.length;
  }

  /** Delay before the attempt after `attempt`: the schedule with jitter, the overload floor, Retry-After. */
  retryDelay(attempt: number, result: PostResult): number {
    const { retryScheduleMs, retryJitter, throttleFloorMs } = this.settings;
    let delay = (retryScheduleMs[attempt - 1] ?? 0) * (1 + retryJitter * (2 * Math.random() - 1));
    if (result.throttled) delay = Math.max(delay, throttleFloorMs);
    if (result.retryAfterMs !== undefined) delay = Math.max(delay, Math.min(result.retryAfterMs, 86_400_000));
    return delay;
  }
}
