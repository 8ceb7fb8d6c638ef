import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { LOG_START } from '../../src/log/reader.js';
import { Batcher, type Batch, type BatcherOptions } from '../../src/webhooks/delivery/batcher.js';
import { SubscriptionFeed, type BatchEntry } from '../../src/webhooks/delivery/feed.js';
import { batchMessageId } from '../../src/webhooks/delivery/signing.js';
import type { SubscriptionDef } from '../../src/webhooks/store.js';
import { sleep } from '../helpers/wait.js';

/*
 * The batcher over a real SubscriptionFeed, fed as the dispatcher feeds a live one: each matched
 * entry offered in log order (an entry that matched nothing is not offered). Batch bounds, linger,
 * the rebuilt first batch of a new owner (same webhook-id), and redrives.
 * test/webhooks-delivery.test.ts and test/webhooks-leases.test.ts run it inside workers on
 * redis-server; test/unit/subscription-feed.test.ts covers the feed's own catch-up.
 */

const subscription = { id: 'sub-1', model: 'cdr', reseller: '*', domain: '*', user: '*' } as SubscriptionDef;
const feeds: SubscriptionFeed[] = [];
afterEach(() => {
  for (const feed of feeds.splice(0)) feed.close();
});

/** A subscription's feed at the head of an empty log, once live; `arrive` offers entries as the dispatcher does. */
async function liveFeed(): Promise<SubscriptionFeed & { arrive(...entries: BatchEntry[]): void }> {
  const feed = new SubscriptionFeed(
    {
      def: subscription,
      log: { after: async () => [] },
      maxPendingEvents: 10_000,
      head: () => LOG_START,
      retry: (_what, operation) => operation(),
      failed: (error) => {
        throw error;
      },
    },
    LOG_START,
  );
  feeds.push(feed);
  feed.start();
  // Its catch-up reads the empty log and goes live within the microtasks before the next macrotask.
  await new Promise(setImmediate);
  return Object.assign(feed, { arrive: (...entries: BatchEntry[]) => entries.forEach((item) => feed.offer(item)) });
}

const entry = (ms: number): BatchEntry => ({ position: `${ms}-0`, json: `{"n":${ms}}` });
const entries = (from: number, count: number) => Array.from({ length: count }, (_, index) => entry(from + index));
const base: BatcherOptions = { subscriptionId: 'sub-1', generation: '3', maxEvents: 3, lingerMs: 0 };
const running = () => false;
const idOf = (batch: BatchEntry[]) => batchMessageId('sub-1', '3', batch[0]?.position ?? '', batch.at(-1)?.position ?? '');

describe('Batcher', () => {
  it('cuts batches of up to maxEvents in log order, named by their bounds and the generation', async () => {
    const source = await liveFeed();
    source.arrive(...entries(1, 7));
    const batcher = new Batcher(source, base);
    const batches = [await batcher.next(running), await batcher.next(running), await batcher.next(running)] as Batch[];
    expect(batches.map((batch) => batch.entries.map((item) => item.position))).toEqual([
      ['1-0', '2-0', '3-0'],
      ['4-0', '5-0', '6-0'],
      ['7-0'],
    ]);
    expect(batches.map((batch) => batch.webhookId)).toEqual(batches.map((batch) => idOf(batch.entries)));
    expect(batches.map((batch) => batch.advanceTo)).toEqual(['3-0', '6-0', '7-0']);
    expect(new Set(batches.map((batch) => batch.webhookId)).size).toBe(3);
  });

  it('waits for the first entry, then lingers up to lingerMs for the batch to fill', async () => {
    const source = await liveFeed();
    const batcher = new Batcher(source, { ...base, lingerMs: 10_000 });
    const next = batcher.next(running);
    source.arrive(entry(1));
    await sleep(20);
    source.arrive(entry(2));
    await sleep(20);
    // Full: no need to wait out the linger.
    source.arrive(entry(3), entry(4));
    const batch = (await next) as Batch;
    expect(batch.entries.map((item) => item.position)).toEqual(['1-0', '2-0', '3-0']);
  });

  it('sends a partial batch once the linger is over', async () => {
    const source = await liveFeed();
    const batcher = new Batcher(source, { ...base, lingerMs: 30 });
    source.arrive(entry(1));
    const started = performance.now();
    const batch = (await batcher.next(running)) as Batch;
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(batch.entries.map((item) => item.position)).toEqual(['1-0']);
  });

  it('rebuilds the batch the previous owner opened: it ends at resumeEnd, once the log is read that far', async () => {
    const source = await liveFeed();
    const batcher = new Batcher(source, { ...base, resumeEnd: '5-0' });
    source.arrive(entry(2), entry(4));
    const next = batcher.next(running);
    await sleep(10);
    // Entry 5 matched nothing here (it is never offered); entry 7 shows the log was read past it:
    // the batch is 2..4, as the previous owner cut it.
    source.arrive(entry(7));
    const batch = (await next) as Batch;
    expect(batch.entries.map((item) => item.position)).toEqual(['2-0', '4-0']);
    expect(batch.webhookId).toBe(idOf([entry(2), entry(4)]));
    expect(((await batcher.next(running)) as Batch).entries.map((item) => item.position)).toEqual(['7-0']);
  });

  it('cuts a normal batch when nothing at the cursor is left up to resumeEnd', async () => {
    const source = await liveFeed();
    source.arrive(entry(6), entry(7));
    const batch = (await new Batcher(source, { ...base, resumeEnd: '5-0' }).next(running)) as Batch;
    expect(batch.entries.map((item) => item.position)).toEqual(['6-0', '7-0']);
  });

  it('hands out redriven failed deliveries first, each under its own webhook-id', async () => {
    const failed = [
      { id: 'f1', failedAt: '', webhookId: 'msg_a', reason: '', entries: [{ seq: '1-0', event: '{"a":1}' }] },
      { id: 'f2', failedAt: '', webhookId: 'msg_b', reason: '', entries: [{ seq: '2-0', event: '{"b":2}' }, { seq: '3-0', event: '{"c":3}' }] },
    ];
    const batcher = new Batcher(await liveFeed(), { ...base, redrive: failed });
    expect(batcher.redrivePending).toBe(2);
    expect(batcher.nextRedriven()).toEqual({ entries: [{ position: '1-0', json: '{"a":1}' }], webhookId: 'msg_a', failedId: 'f1' });
    expect(batcher.nextRedriven()).toEqual({
      entries: [
        { position: '2-0', json: '{"b":2}' },
        { position: '3-0', json: '{"c":3}' },
      ],
      webhookId: 'msg_b',
      failedId: 'f2',
    });
    expect(batcher.nextRedriven()).toBeUndefined();
    expect(batcher.redrivePending).toBe(0);
  });

  it('gives up waiting once stopped', async () => {
    let stopped = false;
    const source = await liveFeed();
    const next = new Batcher(source, base).next(() => stopped);
    stopped = true;
    source.close();
    expect(await next).toBeUndefined();
  });
});

describe('Batcher properties (fast-check)', () => {
  it('covers the entries once, in order, in batches of at most maxEvents; a new owner resuming at any batch rebuilds it with the same webhook-id', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uniqueArray(fc.integer({ min: 1, max: 500 }), { minLength: 1, maxLength: 40 }), fc.integer({ min: 1, max: 6 }), async (times, maxEvents) => {
        const all = [...times].sort((a, b) => a - b).map(entry);
        const source = await liveFeed();
        source.arrive(...all);
        const batcher = new Batcher(source, { ...base, maxEvents });
        const batches: Batch[] = [];
        while (source.size > 0) batches.push((await batcher.next(running)) as Batch);
        expect(batches.flatMap((batch) => batch.entries)).toEqual(all);
        for (const batch of batches) expect(batch.entries.length).toBeLessThanOrEqual(maxEvents);
        let cursor = 0;
        for (const batch of batches) {
          // The successor reads from the durable cursor (after the last delivered batch) with the opened batch's end.
          const successor = await liveFeed();
          successor.arrive(...all.slice(cursor));
          const rebuilt = (await new Batcher(successor, { ...base, maxEvents, resumeEnd: batch.advanceTo }).next(running)) as Batch;
          expect(rebuilt.entries).toEqual(batch.entries);
          expect(rebuilt.webhookId).toBe(batch.webhookId);
          cursor += batch.entries.length;
        }
      }),
      { numRuns: 100 },
    );
  });
});
