import { describe, expect, it } from 'vitest';
import { CallRecords } from '../src/sources/call-record.js';
import { waitFor } from './helpers/wait.js';

type Flushed = { root: string; legs: string[] };

function records(settleMs: number, maxCalls = 100, maxOpenMs = 600_000) {
  const flushed: Flushed[] = [];
  const calls = new CallRecords<string>({ settleMs, maxCalls, maxOpenMs, flush: (root, legs) => flushed.push({ root, legs }) });
  return { calls, flushed };
}

describe('CallRecords: one record per call, after its last leg and a settle window', () => {
  it('waits for every started leg, then hands the call over once with its legs in the order they ended', async () => {
    const { calls, flushed } = records(30);
    calls.legStarted('call-1', 'caller');
    calls.legStarted('call-1', 'agent');
    calls.legEnded('call-1', 'caller', 'caller ended');
    // A call that ends later settles later: once it is handed over, call-1's window would have passed too.
    calls.legEnded('later', 'caller', 'later caller');
    await waitFor(() => flushed.length === 1, 5_000, 'the later call');
    // The agent leg is still up: call-1 is not handed over.
    expect(flushed).toEqual([{ root: 'later', legs: ['later caller'] }]);
    flushed.length = 0;
    calls.legEnded('call-1', 'agent', 'agent ended');
    await waitFor(() => flushed.length === 1, 5_000, 'the call record');
    expect(flushed).toEqual([{ root: 'call-1', legs: ['caller ended', 'agent ended'] }]);
    expect(calls.size).toBe(0);
  });

  it('joins a leg known only from its end when it comes within the settle window, and a repeated end replaces, not adds', async () => {
    const { calls, flushed } = records(300);
    calls.legEnded('call-2', 'a-leg', 'a');
    calls.legEnded('call-2', 'b-leg', 'b');
    calls.legEnded('call-2', 'b-leg', 'b again');
    await waitFor(() => flushed.length === 1, 5_000, 'the call record');
    expect(flushed).toEqual([{ root: 'call-2', legs: ['a', 'b again'] }]);
  });

  it('a leg that starts while the call settles holds it open again', async () => {
    const { calls, flushed } = records(30);
    calls.legEnded('call-3', 'caller', 'caller');
    calls.legStarted('call-3', 'transfer');
    calls.legEnded('later', 'caller', 'later caller');
    await waitFor(() => flushed.length === 1, 5_000, 'the later call');
    expect(flushed).toEqual([{ root: 'later', legs: ['later caller'] }]);
    flushed.length = 0;
    calls.legEnded('call-3', 'transfer', 'transfer');
    await waitFor(() => flushed.length === 1, 5_000, 'the call record');
    expect(flushed).toEqual([{ root: 'call-3', legs: ['caller', 'transfer'] }]);
  });

  it('keeps calls apart, hands each over once, in the order they settled', async () => {
    const { calls, flushed } = records(20);
    for (const root of ['x', 'y', 'z']) calls.legStarted(root, `${root}-caller`);
    calls.legEnded('y', 'y-caller', 'y1');
    calls.legEnded('x', 'x-caller', 'x1');
    calls.legEnded('z', 'z-caller', 'z1');
    await waitFor(() => flushed.length === 3, 5_000, 'three records');
    expect(flushed.map((call) => call.root)).toEqual(['y', 'x', 'z']);
    // Nothing is left to hand over a second time.
    expect(calls.size).toBe(0);
    calls.flushAll();
    expect(flushed).toHaveLength(3);
  });

  it('is bounded: past maxCalls the oldest call is handed over with what it has; a call with no ended leg has no record', () => {
    const { calls, flushed } = records(60_000, 2);
    calls.legStarted('old', 'caller');
    calls.legEnded('old', 'agent', 'old agent');
    calls.legStarted('never-ended', 'caller');
    calls.legStarted('new', 'caller');
    expect(flushed).toEqual([{ root: 'old', legs: ['old agent'] }]);
    calls.legStarted('newer', 'caller');
    // 'never-ended' was evicted with no ended leg: nothing to write.
    expect(flushed).toHaveLength(1);
    expect(calls.size).toBe(2);
  });

  it('a leg whose end was lost holds its call at most maxOpenMs after a leg last ended', async () => {
    const { calls, flushed } = records(10, 100, 150);
    calls.legStarted('lost', 'caller');
    calls.legStarted('lost', 'agent');
    calls.legEnded('lost', 'caller', 'caller');
    // A call that settles normally meanwhile is not held up by the other's deadline.
    calls.legEnded('normal', 'caller', 'normal caller');
    await waitFor(() => flushed.length === 1, 5_000, 'the settled call');
    expect(flushed).toEqual([{ root: 'normal', legs: ['normal caller'] }]);
    await waitFor(() => flushed.length === 2, 5_000, 'the call whose agent leg never ended');
    expect(flushed[1]).toEqual({ root: 'lost', legs: ['caller'] });
    expect(calls.size).toBe(0);
  });

  it('flushAll hands over every call now (a PBX restart, the source closing), open legs or not', () => {
    const { calls, flushed } = records(60_000);
    calls.legStarted('p', 'caller');
    calls.legStarted('p', 'agent');
    calls.legEnded('p', 'caller', 'p caller');
    calls.legEnded('q', 'caller', 'q caller');
    calls.flushAll();
    expect(flushed).toEqual([
      { root: 'p', legs: ['p caller'] },
      { root: 'q', legs: ['q caller'] },
    ]);
    expect(calls.size).toBe(0);
  });
});
