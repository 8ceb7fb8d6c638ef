import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { AcceptedEvent, EventType } from '../../src/events/catalogue.js';
import type { LogEntry } from '../../src/log/codec.js';
import { encodeEvent } from '../../src/log/codec.js';
import { LiveProjection, type LiveEntityKind } from '../../src/live/projection.js';
import { memoryEntry } from './helpers/memory-log.js';

/*
 * LiveProjection as a FeedConsumer: a pure function of the log, whatever batches the feed cuts,
 * skipping what it cannot read, within its bounds. test/live-figures.test.ts works out a scripted
 * day's figures by hand; test/live.test.ts runs the projection in a hub on redis-server.
 */

const config = parseConfig({ live: { maxAgents: 4, maxQueues: 3, maxCalls: 5, latestCdrs: 3, queues: { q1: { alerts: { serviceLevelBelowPct: 80 } } } } }).live;
const START = Date.parse('2026-12-07T14:00:00Z');

const AGENTS = ['a1', 'a2', 'a3', 'a4', 'a5', 'a6'];
const QUEUES = ['q1', 'q2', 'q3', 'q4'];
const CALLS = ['c1', 'c2', 'c3', 'c4', 'c5', 'c6', 'c7'];
const STATUSES = ['available', 'busy', 'wrapup', 'not_ready', 'on_break', 'offline'];

/** One step of a floor: an event about the small cast above, some seconds after the previous one. */
const stepArbitrary = fc.record({
  afterS: fc.integer({ min: 0, max: 600 }),
  kind: fc.constantFrom<EventType>('agent.status_changed', 'call.queued', 'call.offered', 'call.connected', 'call.ended', 'call.abandoned', 'call.missed', 'call.held', 'call.resumed', 'cdr.created', 'source.resynced', 'message.received' as EventType),
  agent: fc.constantFrom(...AGENTS),
  queue: fc.constantFrom(...QUEUES),
  call: fc.constantFrom(...CALLS),
  status: fc.constantFrom(...STATUSES),
  domain: fc.constantFrom('d1', 'd2'),
  /** One entry in ten holds JSON the hub did not write. */
  unreadable: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
});
type Step = typeof stepArbitrary extends fc.Arbitrary<infer T> ? T : never;

function entriesOf(steps: readonly Step[]): LogEntry[] {
  let time = START;
  return steps.map((step, index) => {
    time += step.afterS * 1000;
    const data: Record<string, unknown> =
      step.kind === 'agent.status_changed' ? { agent: step.agent, status: step.status, queues: [step.queue] }
      : step.kind === 'cdr.created' ? { call_id: step.call, queue: step.queue, agent: step.agent }
      : step.kind === 'source.resynced' ? { reason: 'reconnected' }
      : { call_id: step.call, queue: step.queue, agent: step.agent, reason: 'caller_hungup' };
    const event: AcceptedEvent = { id: `e${index}`, type: step.kind, time: new Date(time).toISOString(), source: 'floor', scope: { domain: step.domain }, data };
    const position = `${time}-${index}`;
    return step.unreadable ? memoryEntry(position, { id: event.id, type: event.type, json: '{"broken"' }) : memoryEntry(position, { id: event.id, type: event.type, json: encodeEvent(event) });
  });
}

/** Everything a reader of the projection sees, Maps as ordered entry lists (their order is the eviction order). */
function snapshot(projection: LiveProjection) {
  const ordered = <V>(map: ReadonlyMap<string, V>) => [...map.entries()];
  const sets = (map: ReadonlyMap<string, Set<string>>) => [...map.entries()].map(([key, set]) => [key, [...set]]);
  return {
    position: projection.position,
    applied: projection.applied,
    calls: projection.callCount,
    agents: ordered(projection.agents),
    queues: ordered(projection.queues).map(([key, queue]) => [key, { ...queue, slots: queue.slots ? [...queue.slots] : undefined }]),
    agentQueues: sets(projection.agentQueues),
    queueAgents: sets(projection.queueAgents),
    campaignAgents: sets(projection.campaignAgents),
    sources: ordered(projection.sources),
    cdrs: projection.cdrs.map((cdr) => cdr.position),
    timedAgents: [...projection.timedAgents],
    belowQueues: [...projection.belowQueues],
  };
}

/** Splits `entries` into consecutive batches at the given cut points. */
function split(entries: LogEntry[], cuts: number[]): LogEntry[][] {
  const points = [...new Set(cuts.map((cut) => cut % (entries.length + 1)))].sort((a, b) => a - b);
  const batches: LogEntry[][] = [];
  let start = 0;
  for (const point of [...points, entries.length]) {
    if (point > start) batches.push(entries.slice(start, point));
    start = Math.max(start, point);
  }
  return batches;
}

describe('LiveProjection properties (fast-check)', () => {
  it('reaches the same state whether the feed delivers the log in one batch or split anywhere', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 60 }), fc.array(fc.nat(), { maxLength: 8 }), (steps, cuts) => {
        const entries = entriesOf(steps);
        const whole = new LiveProjection(config);
        whole.deliver(entries);
        const pieces = new LiveProjection(config);
        for (const batch of split(entries, cuts)) pieces.deliver(batch);
        expect(snapshot(pieces)).toEqual(snapshot(whole));
      }),
      { numRuns: 150 },
    );
  });

  it('moves past unreadable entries and types it does not follow, changing nothing else', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 40 }), (steps) => {
        const entries = entriesOf(steps);
        const all = new LiveProjection(config);
        all.deliver(entries);
        const readable = new LiveProjection(config);
        readable.deliver(entries.filter((entry) => entry.type !== 'message.received' && !entry.json.startsWith('{"broken"')));
        expect(all.position).toBe(entries.at(-1)?.position);
        expect({ ...snapshot(all), position: undefined }).toEqual({ ...snapshot(readable), position: undefined });
      }),
      { numRuns: 100 },
    );
  });

  it('stays within live.maxAgents, maxQueues and maxCalls and latestCdrs, telling of each entity it drops', () => {
    fc.assert(
      fc.property(fc.array(stepArbitrary, { minLength: 1, maxLength: 80 }), (steps) => {
        const dropped: LiveEntityKind[] = [];
        const projection = new LiveProjection(config, (kind) => dropped.push(kind));
        for (const entry of entriesOf(steps)) {
          projection.deliver([entry]);
          expect(projection.agents.size).toBeLessThanOrEqual(config.maxAgents);
          expect(projection.queues.size).toBeLessThanOrEqual(config.maxQueues);
          expect(projection.callCount).toBeLessThanOrEqual(config.maxCalls);
          expect(projection.cdrs.length).toBeLessThanOrEqual(config.latestCdrs);
        }
        const agentsSeen = new Set(steps.filter((step) => !step.unreadable && step.kind !== 'message.received' && step.kind !== 'source.resynced').map((step) => `${step.domain}/${step.agent}`));
        if (agentsSeen.size <= config.maxAgents) expect(dropped.filter((kind) => kind === 'agent')).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });
});

describe('LiveProjection.deliver', () => {
  it('counts applied events, skips unreadable ones, and takes the last position', () => {
    const projection = new LiveProjection(config);
    const event: AcceptedEvent = { id: 'x', type: 'agent.status_changed', time: new Date(START).toISOString(), data: { agent: 'a1', status: 'available' } };
    projection.deliver([
      memoryEntry('1-0', { id: 'x', type: event.type, json: encodeEvent(event) }),
      memoryEntry('2-0', { id: 'y', type: 'agent.status_changed', json: 'not json' }),
      memoryEntry('3-0', { id: 'z', type: 'message.received', json: '{}' }),
    ]);
    expect(projection.applied).toBe(1);
    expect(projection.position).toBe('3-0');
    expect([...projection.agents.values()].map((agent) => [agent.agent, agent.status])).toEqual([['a1', 'available']]);
  });
});
