import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { AcceptedEvent } from '../../src/events/catalogue.js';
import type { LogEntry } from '../../src/log/codec.js';
import { LogFeed, type FeedConsumer } from '../../src/log/feed.js';
import { LOG_START } from '../../src/log/reader.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { MemoryLog } from './helpers/memory-log.js';

/*
 * LogFeed over an in-memory log (./helpers/memory-log.ts): one follower fanned out, catch-up at
 * each consumer's pace, the hand-over from catch-up to live without a gap or a repeat, and reads
 * failing while "Redis" is away. test/stream.test.ts and test/live.test.ts run it on redis-server.
 */

const logger = pino({ level: 'silent' });
const feeds: LogFeed[] = [];
afterEach(async () => {
  await Promise.all(feeds.splice(0).map((feed) => feed.close()));
});

function startFeed(log: MemoryLog, pageSize = 4): LogFeed {
  const feed = new LogFeed({ live: log, ranges: log, logger, blockMs: 20, pageSize });
  feeds.push(feed);
  feed.start();
  return feed;
}

let eventSeq = 0;
const event = (): AcceptedEvent => ({ id: `ev-${++eventSeq}`, type: 'call.ended', time: '2026-12-06T06:00:00.000Z', data: { call_id: `c${eventSeq}` } });
const events = (count: number) => Array.from({ length: count }, event);

/** Collects what it is given; `deliver` can be held to test backpressure. */
class Collector implements FeedConsumer {
  readonly positions: string[] = [];
  batches = 0;
  hold: Promise<void> | undefined;

  /** `delayMs`: each delivery takes that long (a slow client). */
  constructor(private readonly delayMs = 0) {}

  deliver(entries: readonly LogEntry[]): void | Promise<void> {
    this.batches += 1;
    this.positions.push(...entries.map((entry) => entry.position));
    return this.delayMs > 0 ? sleep(this.delayMs) : this.hold;
  }
}

const positionsAfter = (log: MemoryLog, after: string) => {
  const all = log.entries.map((entry) => entry.position);
  return after === LOG_START ? all : all.slice(all.indexOf(after) + 1);
};

describe('LogFeed (in-memory log)', () => {
  it('catches a consumer up from its position in pages, then hands it what the follower reads', async () => {
    const log = new MemoryLog();
    log.append(...events(10));
    const feed = startFeed(log);
    await waitFor(() => feed.position === log.entries.at(-1)?.position, 2000, 'the feed to read the head');
    const start = (log.entries[2] as LogEntry).position;
    const consumer = new Collector();
    const subscription = feed.subscribe(start, consumer);
    await waitFor(() => subscription.live, 2000, 'the consumer to go live');
    // Seven entries after the third, in pages of four.
    expect(consumer.batches).toBe(2);
    log.append(...events(3));
    await waitFor(() => consumer.positions.length === 10, 2000, 'live entries');
    expect(consumer.positions).toEqual(positionsAfter(log, start));
    expect(subscription.position).toBe(log.entries.at(-1)?.position);
    expect(feed.consumerCount).toBe(1);
    subscription.close();
    expect(feed.consumerCount).toBe(0);
  });

  it('waits for a catching-up consumer before reading its next page (backpressure)', async () => {
    const log = new MemoryLog();
    log.append(...events(12));
    const feed = startFeed(log);
    const consumer = new Collector();
    let release = () => {};
    consumer.hold = new Promise<void>((resolve) => (release = resolve));
    const subscription = feed.subscribe(LOG_START, consumer);
    await waitFor(() => consumer.batches === 1, 2000, 'the first page');
    await sleep(50);
    expect(consumer.batches).toBe(1);
    consumer.hold = undefined;
    release();
    await waitFor(() => subscription.live, 2000, 'the consumer to go live');
    expect(consumer.positions).toEqual(positionsAfter(log, LOG_START));
  });

  it('retries while reads fail, at start and during catch-up, and loses nothing', async () => {
    const log = new MemoryLog();
    log.append(...events(6));
    log.failReads(2);
    const feed = startFeed(log);
    const consumer = new Collector();
    const subscription = feed.subscribe(LOG_START, consumer);
    await waitFor(() => subscription.live, 3000, 'the consumer to go live');
    log.failReads(1);
    log.append(...events(2));
    await waitFor(() => consumer.positions.length === 8, 3000, 'entries after the failures');
    expect(consumer.positions).toEqual(positionsAfter(log, LOG_START));
  });

  it('hands unreadable entries on with their position (the consumer skips them)', async () => {
    const log = new MemoryLog();
    log.append(event());
    log.appendUnreadable();
    log.append(event());
    const feed = startFeed(log);
    const received: LogEntry[] = [];
    const subscription = feed.subscribe(LOG_START, { deliver: (entries) => void received.push(...entries) });
    await waitFor(() => subscription.live && received.length === 3, 2000, 'three entries');
    expect(() => received[1]?.event).toThrow(/unreadable/);
    expect(received.map((entry) => entry.position)).toEqual(positionsAfter(log, LOG_START));
  });

  it('stops delivering on close', async () => {
    const log = new MemoryLog();
    const feed = startFeed(log);
    const consumer = new Collector();
    const subscription = feed.subscribe(LOG_START, consumer);
    await waitFor(() => subscription.live, 2000, 'the consumer to go live');
    await feed.close();
    log.append(...events(2));
    await sleep(30);
    expect(consumer.positions).toEqual([]);
    expect(feed.consumerCount).toBe(0);
  });
});

type Step = { kind: 'append'; count: number } | { kind: 'subscribe'; at: number; slow: boolean } | { kind: 'pause' };

describe('LogFeed properties (fast-check)', () => {
  it('gives every consumer each entry after its start exactly once, in order, wherever it joins and however slowly it takes them', async () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), count: fc.integer({ min: 1, max: 7 }) }),
      fc.record({ kind: fc.constant('subscribe' as const), at: fc.nat(), slow: fc.boolean() }),
      fc.constant({ kind: 'pause' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 20 }), async (steps) => {
        const log = new MemoryLog();
        const feed = startFeed(log, 3);
        const consumers: { start: string; collector: Collector }[] = [];
        for (const current of steps) {
          if (current.kind === 'append') log.append(...events(current.count));
          else if (current.kind === 'pause') await sleep(2);
          else {
            // Any position up to the head, or the start of the log.
            const index = current.at % (log.entries.length + 1);
            const start = index === 0 ? LOG_START : (log.entries[index - 1] as LogEntry).position;
            const collector = new Collector(current.slow ? 1 : 0);
            feed.subscribe(start, collector);
            consumers.push({ start, collector });
          }
        }
        for (const { start, collector } of consumers) {
          const expected = positionsAfter(log, start);
          await waitFor(() => collector.positions.length >= expected.length, 3000, 'every entry');
          expect(collector.positions).toEqual(expected);
        }
        await feed.close();
      }),
      { numRuns: 60 },
    );
  });
});
