import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import type { AcceptedEvent } from '../../src/events/catalogue.js';
import type { LogEntry } from '../../src/log/codec.js';
import { comparePositions, LOG_START } from '../../src/log/reader.js';
import { SubscriptionFeed, subscriptionMatches, type BatchEntry } from '../../src/webhooks/delivery/feed.js';
import type { SubscriptionDef } from '../../src/webhooks/store.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { MemoryLog } from './helpers/memory-log.js';

/*
 * One subscription's matched entries (src/webhooks/delivery/feed.ts): catch-up from its cursor, the
 * hand-over to the dispatcher's live offers, and the fall back to its own reads when it is too
 * far behind (maxPendingEvents). The dispatcher is played here: every append is offered as its
 * read loop would, moving the head past each entry. test/webhooks*.test.ts run it on redis-server.
 */

const def = { id: 'sub', model: 'cdr', reseller: '*', domain: 'd1', user: '*' } as SubscriptionDef;
let seq = 0;
const cdr = (domain: string): AcceptedEvent => ({ id: `cdr-${++seq}`, type: 'cdr.created', time: '2026-12-06T06:00:00.000Z', scope: { domain }, data: { call_id: `c${seq}` } });
const callEnded = (): AcceptedEvent => ({ id: `end-${++seq}`, type: 'call.ended', time: '2026-12-06T06:00:00.000Z', scope: { domain: 'd1' }, data: { call_id: `c${seq}` } });

const feeds: SubscriptionFeed[] = [];
afterEach(() => {
  for (const feed of feeds.splice(0)) feed.close();
});

/** A feed over an in-memory log, and the dispatcher's part: offer each appended entry that matches, then move the head. */
function setup(maxPendingEvents: number, from = LOG_START) {
  const log = new MemoryLog();
  let head = LOG_START;
  const failures: unknown[] = [];
  const feed = new SubscriptionFeed(
    {
      def,
      log,
      maxPendingEvents,
      head: () => head,
      retry: async (_what, operation) => {
        for (;;) {
          try {
            return await operation();
          } catch {
            await sleep(1);
          }
        }
      },
      failed: (error) => failures.push(error),
    },
    from,
  );
  feeds.push(feed);
  const dispatch = (entries: LogEntry[]) => {
    for (const entry of entries) {
      if (subscriptionMatches(def, entry.event)) feed.offer({ position: entry.position, json: entry.json });
      head = entry.position;
    }
  };
  const append = (...events: AcceptedEvent[]) => dispatch(log.append(...events));
  return { log, feed, append, failures, setHead: (position: string) => (head = position) };
}

const matching = (log: MemoryLog, after = LOG_START) =>
  log.entries.filter((entry) => comparePositions(entry.position, after) > 0 && subscriptionMatches(def, entry.event)).map((entry) => entry.position);

describe('SubscriptionFeed', () => {
  it('catches up from its cursor with the matching entries only, then takes live offers', async () => {
    const { log, feed, append, setHead } = setup(100);
    log.append(cdr('d1'), callEnded(), cdr('d2'), cdr('d1'));
    setHead((log.entries.at(-1) as LogEntry).position);
    feed.start();
    await waitFor(() => feed.size === 2, 2000, 'the catch-up');
    append(cdr('d1'), cdr('d2'));
    await waitFor(() => feed.size === 3, 2000, 'the live entry');
    expect(feed.take(10).map((entry) => entry.position)).toEqual(matching(log));
    // Live, it has read up to the last entry offered: entries after it that match nothing were never offered.
    expect(feed.hasRead(matching(log).at(-1) as string)).toBe(true);
    expect(feed.hasRead((log.entries.at(-1) as LogEntry).position)).toBe(false);
  });

  it('takes only up to the given position, and wakes a waiter when entries arrive', async () => {
    const { log, feed, append } = setup(100);
    feed.start();
    await sleep(5);
    const waiting = feed.waitForMore(5000);
    append(cdr('d1'), cdr('d1'), cdr('d1'));
    await waiting;
    await waitFor(() => feed.size === 3, 2000, 'three entries');
    const second = (log.entries[1] as LogEntry).position;
    expect(feed.take(10, second).map((entry) => entry.position)).toEqual(log.entries.slice(0, 2).map((entry) => entry.position));
    expect(feed.oldest?.position).toBe((log.entries[2] as LogEntry).position);
  });
});

type Step = { kind: 'append'; domains: ('d1' | 'd2' | 'end')[] } | { kind: 'take'; count: number } | { kind: 'pause' };

describe('SubscriptionFeed properties (fast-check)', () => {
  it('yields every matching entry once, in log order, through catch-up, live offers and overflow alike', async () => {
    const step: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ kind: fc.constant('append' as const), domains: fc.array(fc.constantFrom('d1' as const, 'd2' as const, 'end' as const), { minLength: 1, maxLength: 6 }) }),
      fc.record({ kind: fc.constant('take' as const), count: fc.integer({ min: 1, max: 5 }) }),
      fc.constant({ kind: 'pause' as const }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 25 }), fc.integer({ min: 1, max: 6 }), fc.boolean(), async (steps, maxPendingEvents, backlog) => {
        const { log, feed, append, failures, setHead } = setup(maxPendingEvents);
        if (backlog) {
          log.append(cdr('d1'), cdr('d2'), cdr('d1'), callEnded(), cdr('d1'));
          setHead((log.entries.at(-1) as LogEntry).position);
        }
        feed.start();
        const taken: BatchEntry[] = [];
        for (const current of steps) {
          if (current.kind === 'append') append(...current.domains.map((domain) => (domain === 'end' ? callEnded() : cdr(domain))));
          else if (current.kind === 'take') taken.push(...feed.take(current.count));
          else await sleep(1);
        }
        const expected = matching(log);
        await waitFor(
          () => {
            taken.push(...feed.take(100));
            return taken.length >= expected.length;
          },
          3000,
          'every matching entry',
        );
        expect(taken.map((entry) => entry.position)).toEqual(expected);
        expect(failures).toEqual([]);
        feed.close();
      }),
      { numRuns: 100 },
    );
  });
});
