import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PostResult } from '../../src/webhooks/delivery/http.js';
import { StatusMachine, type Transition } from '../../src/webhooks/delivery/status-machine.js';
import type { SubscriptionStatus } from '../../src/webhooks/store.js';

/*
 * The status rules and retry schedule of one subscription (docs/webhooks.md, "Status"), without
 * I/O; test/webhooks-delivery.test.ts runs them through real posts and redis-server.
 */

const settings = {
  errorAfterFailures: 3,
  cleanIntervalMs: 60_000,
  disableAfterExhaustedBatches: 2,
  retryScheduleMs: [1000, 5000, 30_000],
  retryJitter: 0.2,
  throttleFloorMs: 60_000,
};

const failure = (overrides: Partial<PostResult> = {}): PostResult => ({ ok: false, status: 500, error: 'HTTP 500', throttled: false, gone: false, ...overrides });

describe('StatusMachine', () => {
  it('turns pending to active on the first success, without an event', () => {
    expect(new StatusMachine(settings).succeeded('pending')).toEqual({ status: 'active', events: [] });
  });

  it('turns to error after errorAfterFailures consecutive failures, naming the count and the last error', () => {
    const machine = new StatusMachine(settings);
    expect(machine.failed('active', failure())).toEqual({ status: 'active', events: [] });
    expect(machine.failed('active', failure())).toEqual({ status: 'active', events: [] });
    expect(machine.failed('active', failure({ error: 'ECONNREFUSED' }))).toEqual({
      status: 'error',
      events: [{ type: 'subscription.error', status: 'error', reason: '3 consecutive failed posts, last: ECONNREFUSED' }],
    });
    // Already in error: no second event.
    expect(machine.failed('error', failure())).toEqual({ status: 'error', events: [] });
  });

  it('counts only consecutive failures: a success starts over', () => {
    const machine = new StatusMachine(settings);
    machine.failed('active', failure());
    machine.failed('active', failure());
    machine.succeeded('active');
    expect(machine.failed('active', failure()).status).toBe('active');
    expect(machine.failed('active', failure()).status).toBe('active');
    expect(machine.failed('active', failure()).status).toBe('error');
  });

  it('recovers from error after cleanIntervalMs of clean posts; a failure in between restarts the interval', () => {
    const machine = new StatusMachine(settings);
    expect(machine.succeeded('error', 0)).toEqual({ status: 'error', events: [] });
    expect(machine.succeeded('error', 59_999)).toEqual({ status: 'error', events: [] });
    machine.failed('error', failure());
    expect(machine.succeeded('error', 70_000)).toEqual({ status: 'error', events: [] });
    expect(machine.succeeded('error', 129_999).status).toBe('error');
    expect(machine.succeeded('error', 130_000)).toEqual({
      status: 'active',
      events: [{ type: 'subscription.recovered', status: 'active', reason: 'posts succeeded for a clean interval' }],
    });
  });

  it('disables on 410 Gone, once', () => {
    const machine = new StatusMachine(settings);
    expect(machine.failed('active', failure({ status: 410, gone: true }))).toEqual({
      status: 'disabled',
      events: [{ type: 'subscription.disabled', status: 'disabled', reason: 'the receiver answered 410 Gone' }],
    });
    expect(machine.failed('disabled', failure({ status: 410, gone: true }))).toEqual({ status: 'disabled', events: [] });
  });

  it('sends an exhausted batch to error, and disables after disableAfterExhaustedBatches in a row', () => {
    const machine = new StatusMachine(settings);
    expect(machine.exhausted(1, 4, failure({ error: 'HTTP 503' }), 7)).toEqual({
      status: 'error',
      reason: '4 attempts failed, last: HTTP 503',
      events: [{ type: 'subscription.error', status: 'error', reason: 'batch moved to failed deliveries: 4 attempts failed, last: HTTP 503', failed_events: 7 }],
    });
    const second = machine.exhausted(2, 4, failure(), 1);
    expect(second.status).toBe('disabled');
    expect(second.events.map((event) => event.type)).toEqual(['subscription.error', 'subscription.disabled']);
    expect(second.events[1]?.reason).toBe('2 consecutive batches exhausted their retries');
  });

  it('allows one attempt per schedule entry after the first', () => {
    const machine = new StatusMachine(settings);
    expect([1, 2, 3, 4].map((attempt) => machine.outOfAttempts(attempt))).toEqual([false, false, false, true]);
  });

  it('waits the schedule ± jitter, at least the floor when throttled, at least Retry-After (capped at a day)', () => {
    const machine = new StatusMachine(settings);
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 3 }), fc.boolean(), fc.option(fc.nat(200_000_000), { nil: undefined }), (attempt, throttled, retryAfterMs) => {
        const base = settings.retryScheduleMs[attempt - 1] as number;
        const delay = machine.retryDelay(attempt, failure({ throttled, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) }));
        let low = base * (1 - settings.retryJitter);
        let high = base * (1 + settings.retryJitter);
        if (throttled) [low, high] = [Math.max(low, settings.throttleFloorMs), Math.max(high, settings.throttleFloorMs)];
        if (retryAfterMs !== undefined) {
          const asked = Math.min(retryAfterMs, 86_400_000);
          [low, high] = [Math.max(low, asked), Math.max(high, asked)];
        }
        expect(delay).toBeGreaterThanOrEqual(low);
        expect(delay).toBeLessThanOrEqual(high);
      }),
    );
  });
});

type Outcome = { ok: true; afterMs: number } | { ok: false; gone: boolean };

describe('StatusMachine properties (fast-check)', () => {
  it('announces a status exactly when it changes, and reaches error after exactly errorAfterFailures failures in a row', () => {
    const outcome: fc.Arbitrary<Outcome> = fc.oneof(
      { weight: 3, arbitrary: fc.record({ ok: fc.constant(true as const), afterMs: fc.integer({ min: 0, max: 40_000 }) }) },
      { weight: 3, arbitrary: fc.record({ ok: fc.constant(false as const), gone: fc.constant(false) }) },
      { weight: 1, arbitrary: fc.record({ ok: fc.constant(false as const), gone: fc.constant(true) }) },
    );
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 40 }), (outcomes) => {
        const machine = new StatusMachine(settings);
        let status: SubscriptionStatus = 'pending';
        let now = 0;
        let failuresInRow = 0;
        for (const next of outcomes) {
          if (status === 'disabled') break;
          let transition: Transition;
          if (next.ok) {
            now += next.afterMs;
            failuresInRow = 0;
            transition = machine.succeeded(status, now);
          } else {
            failuresInRow += 1;
            transition = machine.failed(status, failure(next.gone ? { status: 410, gone: true } : {}));
          }
          const announced = transition.events.map((event) => event.type);
          const expected =
            transition.status === status || (status === 'pending' && transition.status === 'active') ? []
            : transition.status === 'error' ? ['subscription.error']
            : transition.status === 'active' ? ['subscription.recovered']
            : ['subscription.disabled'];
          expect(announced).toEqual(expected);
          if (transition.status === 'error' && status !== 'error') expect(failuresInRow).toBe(settings.errorAfterFailures);
          if (transition.status === 'disabled') expect(next.ok === false && next.gone).toBe(true);
          for (const event of transition.events) expect(event.status).toBe(transition.status);
          status = transition.status;
        }
      }),
    );
  });
});
