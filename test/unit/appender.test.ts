import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { AcceptedEvent } from '../../src/events/catalogue.js';
import { Appender, type AppendOutcome } from '../../src/log/appender.js';
import { EventLogWriter } from '../../src/log/event-log.js';
import { Spool } from '../../src/log/spool.js';
import { createMetrics } from '../../src/metrics.js';
import { createKeys } from '../../src/redis/keys.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { MemoryAppendTransport, type TransportFault } from './helpers/append-transport.js';

/*
 * The appender against an in-memory Redis (./helpers/append-transport.ts) and a real spool in a
 * temporary folder: order, dedup and spool/drain while writes are refused, lose their reply,
 * stall, the connection drops or replicas fall short. test/faults.test.ts and
 * test/redis-stall.test.ts hold the same rules against redis-server.
 */

const config = parseConfig({});
const keys = createKeys(config);
const writer = new EventLogWriter(keys, [], config.eventLog);
const logger = pino({ level: 'silent' });
const folders: string[] = [];
afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

/** Small spool rows and drain batches, so a drain takes several pipelined, fenced writes. */
const ROW_EVENTS = 3;
/** In memory where the system has it: the spool's fsync is not what these tests are about (test/faults.test.ts kills a hub over it). */
const SPOOL_PARENT = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
/**
 * The write deadline where a test stalls Redis on purpose (short, so a stall costs little time);
 * elsewhere a generous one, so a loaded machine cannot turn a direct write into a spooled one.
 */
const STALL_WRITE_TIMEOUT_MS = 40;

function setup(options: { minReplicasAcked?: number; spoolMaxBytes?: number; writeTimeoutMs?: number } = {}) {
  const folder = mkdtempSync(join(SPOOL_PARENT, 'switchboard-appender-'));
  folders.push(folder);
  const spool = new Spool(folder, options.spoolMaxBytes ?? 64 * 1024 * 1024, ROW_EVENTS);
  const transport = new MemoryAppendTransport();
  const appender = new Appender({
    transport,
    writer,
    spool,
    keys,
    metrics: createMetrics(),
    logger,
    minReplicasAcked: options.minReplicasAcked ?? 0,
    replicaAckTimeoutMs: 5,
    writeTimeoutMs: options.writeTimeoutMs ?? 2000,
    drainBatchEvents: 2 * ROW_EVENTS,
    drainRetryMs: 2,
  });
  /** Settles everything: Redis up and answering, the spool drained, the appender closed. */
  const finish = async () => {
    transport.heal();
    await appender.close(10_000);
    const depth = spool.depth;
    spool.close();
    return depth;
  };
  return { spool, transport, appender, finish };
}

const event = (id: string): AcceptedEvent => ({ id, type: 'call.ended', time: '2026-12-06T06:00:00.000Z', source: 'unit', data: { call_id: id } });

describe('Appender (in-memory transport)', () => {
  it('writes straight to Redis while it answers, and reports duplicates within and across appends', async () => {
    const { transport, appender, finish } = setup();
    const first = await appender.append([event('a'), event('b'), event('a')]);
    const second = await appender.append([event('b'), event('c')]);
    expect(first).toEqual({ duplicates: 1, spooled: false });
    expect(second).toEqual({ duplicates: 1, spooled: false });
    expect(transport.ids).toEqual(['a', 'b', 'c']);
    expect(await finish()).toBe(0);
  });

  it('spools a refused batch and everything after it, then drains them in acceptance order', async () => {
    const { transport, appender, spool, finish } = setup();
    transport.failNext('refuse');
    const outcomes = await Promise.all([appender.append([event('1')]), appender.append([event('2'), event('3')]), appender.append([event('4')])]);
    expect(outcomes.every((outcome) => outcome.spooled)).toBe(true);
    await waitFor(() => spool.depth === 0, 5000, 'the spool to drain');
    expect(transport.ids).toEqual(['1', '2', '3', '4']);
    expect(await appender.append([event('5')])).toEqual({ duplicates: 0, spooled: false });
    expect(transport.ids).toEqual(['1', '2', '3', '4', '5']);
    expect(await finish()).toBe(0);
  });

  it('spools a batch whose reply was lost, and the drain writes nothing twice', async () => {
    const { transport, appender, spool, finish } = setup();
    transport.failNext('lose-reply');
    expect(await appender.append([event('x'), event('y')])).toEqual({ duplicates: 0, spooled: true });
    await waitFor(() => spool.depth === 0, 5000, 'the spool to drain');
    expect(transport.ids).toEqual(['x', 'y']);
    expect(await finish()).toBe(0);
  });

  it('spools a batch Redis does not answer within writeTimeoutMs; the stalled write lands once when Redis resumes', async () => {
    const { transport, appender, spool, finish } = setup({ writeTimeoutMs: STALL_WRITE_TIMEOUT_MS });
    transport.failNext('stall');
    expect(await appender.append([event('s1')])).toEqual({ duplicates: 0, spooled: true });
    expect(await appender.append([event('s2')])).toEqual({ duplicates: 0, spooled: true });
    expect(transport.ids).toEqual([]);
    transport.resume();
    await waitFor(() => spool.depth === 0, 5000, 'the spool to drain');
    expect(transport.ids).toEqual(['s1', 's2']);
    expect(await finish()).toBe(0);
  });

  it('keeps a batch short of replicas in the spool (under a new token) until replicas confirm, and says so in readiness', async () => {
    const { transport, appender, spool, finish } = setup({ minReplicasAcked: 1 });
    transport.replicas = 0;
    expect(await appender.append([event('r1')])).toEqual({ duplicates: 0, spooled: true });
    expect(transport.ids).toEqual(['r1']);
    expect(appender.spoolReadiness()).toMatchObject({ ok: false, depth: 1, replicasAcked: 0, minReplicasAcked: 1 });
    // The drain goes on writing (each write deduplicated), and nothing leaves the spool unconfirmed.
    const calls = transport.calls;
    await waitFor(() => transport.calls > calls + 2, 5000, 'drain attempts');
    expect(spool.depth).toBe(1);
    transport.replicas = 1;
    await waitFor(() => spool.depth === 0, 5000, 'the spool to drain');
    expect(appender.spoolReadiness()).toEqual({ name: 'spool', ok: true, depth: 0 });
    expect(transport.log.map(({ id }) => id)).toEqual(['r1']);
    expect(await finish()).toBe(0);
  });

  it('answers a full spool with SPOOL_FULL, adding that a timed-out write may still land', async () => {
    const { transport, appender, finish } = setup({ spoolMaxBytes: 1, writeTimeoutMs: STALL_WRITE_TIMEOUT_MS });
    transport.failNext('stall');
    await expect(appender.append([event('f1')])).rejects.toMatchObject({ code: 'SPOOL_FULL', message: expect.stringContaining('may still be applied') });
    transport.setReady(false);
    await expect(appender.append([event('f2')])).rejects.toMatchObject({ code: 'SPOOL_FULL', message: expect.not.stringContaining('may still be applied') });
    transport.resume();
    expect(await finish()).toBe(0);
    expect(transport.ids).toEqual(['f1']);
  });

  it('refuses appends once closing', async () => {
    const { appender, finish } = setup();
    expect(await finish()).toBe(0);
    await expect(appender.append([event('late')])).rejects.toMatchObject({ code: 'SHUTTING_DOWN' });
  });
});

type Step =
  | { kind: 'append'; ids: number[] }
  | { kind: 'fault'; fault: TransportFault }
  | { kind: 'down' }
  | { kind: 'up' }
  | { kind: 'resume' }
  | { kind: 'replicas'; count: number }
  | { kind: 'settle' }
  | { kind: 'pause' };

const stepArbitrary = (withReplicas: boolean): fc.Arbitrary<Step> =>
  fc.oneof(
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('append' as const), ids: fc.array(fc.nat(24), { minLength: 1, maxLength: 5 }) }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('fault' as const), fault: fc.constantFrom<TransportFault>('refuse', 'lose-reply', 'stall') }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'down' as const }) },
    { weight: 2, arbitrary: fc.constant({ kind: 'up' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'resume' as const }) },
    { weight: withReplicas ? 2 : 0, arbitrary: fc.record({ kind: fc.constant('replicas' as const), count: fc.constantFrom(0, 1) }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'settle' as const }) },
    { weight: 1, arbitrary: fc.constant({ kind: 'pause' as const }) },
  );

/**
 * Runs the steps; then Redis comes back for good and the appender closes (draining the spool).
 * Holds: every append was answered; the log holds each id once, in the order of its first
 * acceptance; an append written straight to Redis reports exactly the ids accepted before it as
 * duplicates, and one answered from the spool never more than those; the spool is empty.
 */
async function checkSteps(steps: Step[], minReplicasAcked: number): Promise<void> {
  const { transport, appender, finish } = setup({ minReplicasAcked, writeTimeoutMs: STALL_WRITE_TIMEOUT_MS });
  transport.replicas = minReplicasAcked;
  const accepted: string[] = [];
  const answers: { ids: string[]; earlier: Set<string>; outcome: Promise<AppendOutcome> }[] = [];
  for (const step of steps) {
    switch (step.kind) {
      case 'append': {
        const ids = step.ids.map((n) => `e${n}`);
        const earlier = new Set(accepted);
        accepted.push(...ids);
        answers.push({ ids, earlier, outcome: appender.append(ids.map(event)) });
        break;
      }
      case 'fault':
        transport.failNext(step.fault);
        break;
      case 'down':
        transport.setReady(false);
        break;
      case 'up':
        transport.setReady(true);
        break;
      case 'resume':
        // A stall outlives the write deadline before Redis answers again.
        if (transport.heldCalls > 0) await sleep(STALL_WRITE_TIMEOUT_MS + 10);
        transport.resume();
        break;
      case 'replicas':
        transport.replicas = step.count;
        break;
      case 'settle':
        await Promise.all(answers.map((answer) => answer.outcome));
        break;
      case 'pause':
        // Long enough for drain writes and their retries to run in the current conditions.
        await sleep(5);
        break;
    }
  }
  transport.replicas = minReplicasAcked;
  expect(await finish()).toBe(0);
  for (const { ids, earlier, outcome } of answers) {
    const { duplicates, spooled } = await outcome;
    const seen = new Set(earlier);
    let known = 0;
    for (const id of ids) {
      if (seen.has(id)) known += 1;
      seen.add(id);
    }
    if (spooled) expect(duplicates).toBeLessThanOrEqual(known);
    else expect(duplicates).toBe(known);
  }
  expect(transport.ids).toEqual([...new Set(accepted)]);
}

describe('Appender properties (fast-check)', () => {
  it('keeps acceptance order and writes each id once, whatever fails, stalls or drops', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(false), { minLength: 1, maxLength: 30 }), (steps) => checkSteps(steps, 0)),
      { numRuns: 150 },
    );
  });

  it('does the same while replicas come and go (minReplicasAcked 1)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(stepArbitrary(true), { minLength: 1, maxLength: 30 }), (steps) => checkSteps(steps, 1)),
      { numRuns: 80 },
    );
  });
});
