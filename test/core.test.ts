import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Backoff, backoffDelayMs } from '../src/core/backoff.js';
import { connectInBackground, untilFirstConnect } from '../src/core/connect.js';
import { DeadlineExceededError, withDeadline } from '../src/core/deadline.js';
import { describeError } from '../src/core/describe-error.js';
import { wallClock, zoneOffsetMs } from '../src/core/zoned-time.js';

describe('backoff', () => {
  it('doubles the delay up to the cap, with half of it jittered', () => {
    const low = [0, 1, 2, 3, 4, 5, 10].map((attempt) => backoffDelayMs(attempt, 500, 30_000, () => 0));
    const high = [0, 1, 2, 3, 4, 5, 10].map((attempt) => backoffDelayMs(attempt, 500, 30_000, () => 1));
    expect(low).toEqual([250, 500, 1000, 2000, 4000, 8000, 15_000]);
    expect(high).toEqual([500, 1000, 2000, 4000, 8000, 16_000, 30_000]);
  });

  it('stays within [ceiling/2, ceiling] whatever the randomness, and a huge attempt does not overflow', () => {
    for (let attempt = 0; attempt < 2000; attempt += 1) {
      const delay = backoffDelayMs(attempt, 100, 2000);
      const ceiling = Math.min(2000, 100 * 2 ** attempt);
      expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
      expect(delay).toBeLessThanOrEqual(ceiling);
    }
  });

  it('counts failures until reset, then starts over', () => {
    const backoff = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
    expect([backoff.next(), backoff.next(), backoff.next(), backoff.next(), backoff.next()]).toEqual([100, 200, 400, 800, 1000]);
    backoff.reset();
    expect(backoff.next()).toBe(100);
  });

  it('wait resolves at once, without rejecting, when its signal aborts', async () => {
    const backoff = new Backoff({ initialMs: 60_000, maxMs: 60_000 });
    const stop = new AbortController();
    const started = performance.now();
    const waiting = backoff.wait(stop.signal);
    stop.abort();
    await expect(waiting).resolves.toBeUndefined();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('withDeadline', () => {
  it('settles like the promise when it is in time', async () => {
    await expect(withDeadline(Promise.resolve(7), 1000, 'Redis')).resolves.toBe(7);
    await expect(withDeadline(Promise.reject(new Error('NOPERM')), 1000, 'Redis')).rejects.toThrow('NOPERM');
  });

  it('rejects with a DeadlineExceededError naming what did not answer', async () => {
    const never = new Promise<never>(() => {});
    const error = await withDeadline(never, 20, 'Redis').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(DeadlineExceededError);
    expect((error as DeadlineExceededError).message).toBe('Redis did not answer within 20 ms');
    expect((error as DeadlineExceededError).deadlineMs).toBe(20);
  });
});

describe('describeError', () => {
  it('is never empty: an empty message is filled from the class, the code and the cause', () => {
    // node-redis's TimeoutError: name and message left at their defaults.
    class TimeoutError extends Error {}
    expect(describeError(new TimeoutError())).toBe('Redis did not answer in time');
    class SocketClosedUnexpectedlyError extends Error {
      override name = 'SocketClosedUnexpectedlyError';
    }
    expect(describeError(new SocketClosedUnexpectedlyError())).toBe('SocketClosedUnexpectedlyError');
    const refused = Object.assign(new Error('connect failed'), { code: 'ECONNREFUSED' });
    expect(describeError(refused)).toBe('connect failed (ECONNREFUSED)');
    expect(describeError(new Error('outer', { cause: new TimeoutError() }))).toBe('outer: Redis did not answer in time');
    expect(describeError('plain')).toBe('plain');
    expect(describeError('')).toBe('unknown error');
    expect(describeError(new Error(''))).toBe('Error');
  });
});

/** A client whose connects fail `failures` times, then succeed: enough to drive the helpers. */
class FakeClient extends EventEmitter {
  isReady = false;
  isOpen = false;
  closed = false;
  attempts = 0;
  constructor(private failures: number) {
    super();
  }
  async connect(): Promise<void> {
    this.attempts += 1;
    if (this.failures > 0) {
      this.failures -= 1;
      throw new Error(`refused ${this.attempts}`);
    }
    this.isOpen = true;
    this.isReady = true;
    this.emit('ready');
  }
}

describe('connecting', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('connectInBackground retries a failed first connect until it succeeds, reporting each failure', async () => {
    vi.useFakeTimers();
    const client = new FakeClient(3);
    const errors: string[] = [];
    connectInBackground(client, (error) => errors.push(error.message));
    await vi.runAllTimersAsync();
    expect(client.isReady).toBe(true);
    expect(client.attempts).toBe(4);
    expect(errors).toEqual(['refused 1', 'refused 2', 'refused 3']);
  });

  it('connectInBackground stops trying once the client is closed', async () => {
    vi.useFakeTimers();
    const client = new FakeClient(Infinity);
    connectInBackground(client);
    await vi.advanceTimersByTimeAsync(0);
    expect(client.attempts).toBe(1);
    client.closed = true;
    // The retry already scheduled finds it closed, and schedules nothing more.
    await vi.runAllTimersAsync();
    expect(client.attempts).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('untilFirstConnect: true when ready, false on the first error or at the deadline', async () => {
    const ready = new FakeClient(0);
    const waiting = untilFirstConnect(ready, 10_000);
    await ready.connect();
    await expect(waiting).resolves.toBe(true);
    await expect(untilFirstConnect(ready, 0)).resolves.toBe(true);

    const refusing = new FakeClient(1);
    const refused = untilFirstConnect(refusing, 10_000);
    refusing.emit('error', new Error('refused'));
    await expect(refused).resolves.toBe(false);
    expect(refusing.listenerCount('ready') + refusing.listenerCount('error')).toBe(0);

    const silent = new FakeClient(0);
    await expect(untilFirstConnect(silent, 20)).resolves.toBe(false);
  });
});

describe('zoned time', () => {
  it('reads the wall clock of an instant in a zone, midnight as hour 0', () => {
    expect(wallClock('America/New_York', Date.parse('2026-12-06T05:00:00Z'))).toEqual({ year: 2026, month: 12, day: 6, hour: 0, minute: 0, second: 0 });
    expect(wallClock('Asia/Kolkata', Date.parse('2026-12-06T18:29:59Z'))).toEqual({ year: 2026, month: 12, day: 6, hour: 23, minute: 59, second: 59 });
  });

  it('gives the offset on each side of a daylight-saving change', () => {
    // New York leaves daylight time at 06:00 UTC on 2026-11-01.
    expect(zoneOffsetMs('America/New_York', Date.parse('2026-11-01T05:59:59Z'))).toBe(-4 * 3_600_000);
    expect(zoneOffsetMs('America/New_York', Date.parse('2026-11-01T06:00:00Z'))).toBe(-5 * 3_600_000);
    expect(zoneOffsetMs('Europe/London', Date.parse('2026-07-06T12:00:00.750Z'))).toBe(3_600_000);
    expect(zoneOffsetMs('UTC', Date.parse('2026-07-06T12:00:00Z'))).toBe(0);
  });

  it('refuses a zone Intl does not know', () => {
    expect(() => wallClock('Mars/Olympus_Mons', 0)).toThrow(RangeError);
  });
});
