import fc from 'fast-check';
import pino from 'pino';
import { Counter, Registry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { AcceptedEvent, EventType } from '../../src/events/catalogue.js';
import { LogFeed } from '../../src/log/feed.js';
import { comparePositions, UnreadableEntries } from '../../src/log/reader.js';
import type { BatchEntry } from '../../src/webhooks/delivery/feed.js';
import { Dispatcher, MatchIndex, type DispatchedWorker, type DispatcherHooks, type DispatcherOptions } from '../../src/webhooks/delivery/dispatcher.js';
import { subscriptionMatches } from '../../src/webhooks/delivery/feed.js';
import { MODELS, modelsForType, type Model } from '../../src/webhooks/models.js';
import type { SubscriptionDef, SubscriptionState } from '../../src/webhooks/store.js';
import { waitFor } from '../helpers/wait.js';
import { MemoryLog } from './helpers/memory-log.js';

/*
 * The dispatcher without redis-server. Its routing: which owned subscriptions an event of the log
 * reaches (MatchIndex looks at a few buckets instead of every subscription; it must agree with the
 * plain rule, subscriptionMatches, which a catching-up subscription applies). And its running of
 * workers: over a real LogFeed on an in-memory log (./helpers/memory-log.ts), a registry in memory
 * and workers that record what they are given. test/webhooks.test.ts and
 * test/webhooks-cluster.test.ts deliver through the whole of it on redis-server.
 */

const NAMES = ['*', 'a', 'b'];
const tenantValue = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined });
const TYPES: EventType[] = ['agent.status_changed', 'call.offered', 'call.ended', 'cdr.created', 'audit.logged', 'message.received', 'campaign.status_changed', 'subscription.error' as EventType];

const defArbitrary = fc.record({
  id: fc.uuid(),
  model: fc.constantFrom<Model>(...MODELS),
  reseller: fc.constantFrom(...NAMES),
  domain: fc.constantFrom(...NAMES),
  user: fc.constantFrom(...NAMES),
});

const eventArbitrary = fc
  .record({
    type: fc.constantFrom(...TYPES),
    reseller: tenantValue,
    domain: tenantValue,
    user: tenantValue,
    agent: tenantValue,
    dataDomain: tenantValue,
    targetDomain: tenantValue,
    action: fc.constantFrom('create', 'update', 'delete'),
    objectType: fc.constantFrom('user', 'phonenumber', 'device'),
  })
  .map(({ type, reseller, domain, user, agent, dataDomain, targetDomain, action, objectType }): AcceptedEvent => {
    const scope = Object.fromEntries(Object.entries({ reseller, domain, user }).filter(([, value]) => value !== undefined));
    const data: Record<string, unknown> = { action, object_type: objectType };
    if (agent !== undefined) data.agent = agent;
    if (dataDomain !== undefined) data.domain = dataDomain;
    if (targetDomain !== undefined) data.target_domain = targetDomain;
    return { id: 'e', type, time: '2026-12-06T06:00:00.000Z', ...(Object.keys(scope).length > 0 ? { scope } : {}), data };
  });

const asDef = (fields: Pick<SubscriptionDef, 'id' | 'model' | 'reseller' | 'domain' | 'user'>) => ({ def: fields as SubscriptionDef });

describe('MatchIndex (the dispatcher routing)', () => {
  it('matches exactly the subscriptions the plain rule matches, each once', () => {
    fc.assert(
      fc.property(fc.uniqueArray(defArbitrary, { selector: (def) => def.id, maxLength: 25 }), fc.array(eventArbitrary, { minLength: 1, maxLength: 10 }), (defs, events) => {
        const index = new MatchIndex<{ def: SubscriptionDef }>();
        const items = defs.map(asDef);
        for (const item of items) index.add(item);
        for (const event of events) {
          const visited: string[] = [];
          index.match(event, (item) => visited.push(item.def.id));
          const expected = items.filter((item) => subscriptionMatches(item.def, event)).map((item) => item.def.id);
          expect(visited.sort()).toEqual(expected.sort());
          expect(index.wants(event.type)).toBe(modelsForType(event.type).some((model) => defs.some((def) => def.model === model)));
        }
      }),
    );
  });

  it('forgets a deleted subscription and its empty buckets', () => {
    fc.assert(
      fc.property(fc.uniqueArray(defArbitrary, { selector: (def) => def.id, minLength: 1, maxLength: 15 }), fc.array(fc.nat()), eventArbitrary, (defs, removals, event) => {
        const index = new MatchIndex<{ def: SubscriptionDef }>();
        const items = defs.map(asDef);
        for (const item of items) index.add(item);
        const removed = new Set(removals.map((n) => items[n % items.length]));
        for (const item of removed) if (item) index.delete(item);
        const kept = items.filter((item) => !removed.has(item));
        const visited: string[] = [];
        index.match(event, (item) => visited.push(item.def.id));
        expect(visited.sort()).toEqual(kept.filter((item) => subscriptionMatches(item.def, event)).map((item) => item.def.id).sort());
        expect(index.wants(event.type)).toBe(modelsForType(event.type).some((model) => kept.some((item) => item.def.model === model)));
      }),
    );
  });

  it('keeps the operational subscription.* events away from every subscription', () => {
    const index = new MatchIndex<{ def: SubscriptionDef }>();
    for (const model of MODELS) index.add(asDef({ id: model, model, reseller: '*', domain: '*', user: '*' }));
    const visited: string[] = [];
    index.match({ id: 'x', type: 'subscription.error' as EventType, time: '2026-12-06T06:00:00.000Z', data: {} }, (item) => visited.push(item.def.id));
    expect(visited).toEqual([]);
    expect(index.wants('subscription.error')).toBe(false);
  });
});

const logger = pino({ level: 'silent' });

function subscription(id: string, model: Model, domain: string, extra: Partial<SubscriptionDef> = {}): SubscriptionDef {
  return {
    id,
    model,
    postUrl: `http://127.0.0.1:9/${id}`,
    reseller: '*',
    domain,
    user: '*',
    geoSupport: 'no',
    createdAt: '2026-12-06T06:00:00.000Z',
    expiresAt: '2027-12-06T06:00:00.000Z',
    slot: 0,
    secret: 's',
    ...extra,
  };
}

function deliveryState(gen: string): SubscriptionState {
  return { cursor: '0-0', gen, status: 'active', posts: 0, errors: 0, exhausted: 0, attempts: 0, redrive: 0, redriveDone: 0 };
}

type RegistryReads = DispatcherOptions['store'];

/** The registry's reads in memory; `change` is a change made through another hub node. */
class MemoryRegistry implements RegistryReads {
  readonly defs = new Map<string, SubscriptionDef>();
  readonly states = new Map<string, SubscriptionState>();
  private readonly changes: { position: string; id: string }[] = [];
  private failing = 0;
  private nextChange = 1;
  private held: Promise<void> | undefined;

  constructor(defs: SubscriptionDef[]) {
    for (const def of defs) this.put(def);
  }

  put(def: SubscriptionDef): void {
    this.defs.set(def.id, def);
    if (!this.states.has(def.id)) this.states.set(def.id, deliveryState('0'));
  }

  change(id: string, edit: () => void): void {
    edit();
    this.changes.push({ position: `${this.nextChange++}-0`, id });
  }

  /** The next `count` loads throw, as they do while Redis is away. */
  failLoads(count: number): void {
    this.failing += count;
  }

  async list(): Promise<SubscriptionDef[]> {
    if (this.failing > 0) {
      this.failing -= 1;
      throw new Error('injected: redis unreachable');
    }
    return [...this.defs.values()];
  }

  /** The next `get` reads at once but answers only when released (a slow reply). */
  holdNextGet(): () => void {
    let release = () => {};
    this.held = new Promise((resolve) => (release = resolve));
    return release;
  }

  async get(id: string): Promise<SubscriptionDef | undefined> {
    const def = this.defs.get(id);
    const held = this.held;
    this.held = undefined;
    if (held) await held;
    return def;
  }

  async state(def: SubscriptionDef): Promise<SubscriptionState | undefined> {
    return this.states.get(def.id);
  }

  async lastChange(): Promise<string> {
    return this.changes.at(-1)?.position ?? '0-0';
  }

  async changesAfter(position: string): Promise<{ position: string; id: string | undefined }[]> {
    return this.changes.filter((change) => comparePositions(change.position, position) > 0);
  }
}

/** A worker that records what the dispatcher does with it; its generation is the state's when it was built. */
class RecordingWorker implements DispatchedWorker {
  readonly offered: string[] = [];
  started = false;
  stopped = false;
  drainBoundMs: number | undefined;
  readonly generation: string;
  readonly redriveRequests: number;

  constructor(
    readonly def: SubscriptionDef,
    readonly token: string,
    readonly hooks: DispatcherHooks,
    state: SubscriptionState | undefined,
  ) {
    this.generation = state?.gen ?? '0';
    this.redriveRequests = state?.redrive ?? 0;
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  start(): void {
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
  }

  async drain(boundMs: number): Promise<void> {
    this.drainBoundMs = boundMs;
    this.stopped = true;
  }

  offer(entry: BatchEntry): void {
    if (this.stopped) throw new Error(`entry ${entry.position} offered to the stopped worker of ${this.def.id}`);
    this.offered.push(entry.position);
  }

  lagSeconds(): number {
    return 0;
  }
}

const running: { dispatcher: Dispatcher; feed: LogFeed }[] = [];
afterEach(async () => {
  for (const { dispatcher, feed } of running.splice(0)) {
    await dispatcher.stop();
    await dispatcher.ended();
    await feed.close();
  }
});

function startDispatcher(log: MemoryLog, registry: MemoryRegistry) {
  const feed = new LogFeed({ live: log, ranges: log, logger, blockMs: 20, pageSize: 4 });
  const unreadableCount = new Counter({ name: 'unreadable_total', help: 'unreadable entries', labelNames: ['reader'], registers: [new Registry()] });
  const built: RecordingWorker[] = [];
  const leaseLost: string[] = [];
  let changed = 0;
  const dispatcher = new Dispatcher({
    logger,
    store: registry,
    feed,
    log,
    unreadable: new UnreadableEntries('webhooks', unreadableCount, undefined),
    pollIntervalMs: 10,
    worker: (def, token, hooks) => {
      const worker = new RecordingWorker(def, token, hooks, registry.states.get(def.id));
      built.push(worker);
      return worker;
    },
    leaseLost: (id) => leaseLost.push(id),
    changed: () => (changed += 1),
  });
  running.push({ dispatcher, feed });
  feed.start();
  dispatcher.start();
  return {
    dispatcher,
    built,
    leaseLost,
    changedCount: () => changed,
    unreadable: async () => (await unreadableCount.get()).values.reduce((sum, value) => sum + value.value, 0),
    /** The live (not stopped) worker of a subscription. */
    workerOf: (id: string) => built.filter((worker) => worker.def.id === id && !worker.stopped),
  };
}

/** A dispatcher whose registry has loaded, over a new empty log. */
async function loadedDispatcher(defs: SubscriptionDef[]) {
  const log = new MemoryLog();
  const registry = new MemoryRegistry(defs);
  const run = startDispatcher(log, registry);
  await waitFor(() => run.dispatcher.subscriptions() !== undefined, 5000, 'the registry loaded');
  return { log, registry, run };
}

const at = (time: number, type: EventType, domain: string, data: Record<string, unknown> = {}): AcceptedEvent => ({
  id: `ev-${time}`,
  type,
  time: `2026-12-06T06:00:${String(time).padStart(2, '0')}.000Z`,
  scope: { domain },
  data: { call_id: `c${time}`, ...data },
});

describe('Dispatcher', () => {
  it('hands each entry after its start to the workers it matches, in log order, once; an unreadable one is counted and passed', async () => {
    const log = new MemoryLog();
    const [, old] = log.append(at(1, 'call.ended', 'a'), at(2, 'call.ended', 'a'));
    const registry = new MemoryRegistry([subscription('calls-a', 'call', 'a'), subscription('calls-b', 'call', 'b'), subscription('agents', 'agent', '*')]);
    const run = startDispatcher(log, registry);
    // Acquired before the registry is loaded: its worker starts once it is.
    run.dispatcher.acquired('calls-a', 'token-a');
    expect(run.dispatcher.subscriptions()).toBeUndefined();
    await waitFor(() => run.dispatcher.subscriptions() !== undefined, 5000, 'the registry loaded');
    expect(run.dispatcher.subscriptions()?.map((def) => def.id).sort()).toEqual(['agents', 'calls-a', 'calls-b']);
    expect(run.changedCount()).toBe(1);
    run.dispatcher.acquired('calls-b', 'token-b');
    run.dispatcher.acquired('agents', 'token-agents');
    expect(run.built.map((worker) => [worker.def.id, worker.token, worker.started])).toEqual([
      ['calls-a', 'token-a', true],
      ['calls-b', 'token-b', true],
      ['agents', 'token-agents', true],
    ]);
    expect(run.dispatcher.ownedCount).toBe(3);
    const [callsA, callsB, agents] = run.built as [RecordingWorker, RecordingWorker, RecordingWorker];
    // The head read at start: a worker behind it reads the log itself, from its own cursor.
    expect(callsA.hooks.head()).toBe(old?.position);

    const entries = log.append(
      at(3, 'call.ended', 'a'),
      at(4, 'call.ended', 'b'),
      at(5, 'agent.status_changed', 'a', { agent: '1001', status: 'available' }),
      at(6, 'call.offered', 'b', { agent: '1002' }),
    );
    const unreadable = log.appendUnreadable('call.ended');
    const last = log.append(at(7, 'call.ended', 'a'));
    const positions = [...entries, unreadable, ...last].map((entry) => entry.position);
    await waitFor(() => callsA.hooks.head() === positions.at(-1), 5000, 'the dispatcher passed the last entry');
    expect(callsA.offered).toEqual([positions[0], positions[5]]);
    expect(callsB.offered).toEqual([positions[1], positions[3]]);
    expect(agents.offered).toEqual([positions[2], positions[3]]);
    expect(await run.unreadable()).toBe(1);
  });

  it('stops a lost worker, drains a handed-over one, and passes a worker\'s lost lease on', async () => {
    const { log, run } = await loadedDispatcher([subscription('one', 'cdr', '*'), subscription('two', 'cdr', '*')]);
    run.dispatcher.acquired('one', 't1');
    run.dispatcher.acquired('two', 't2');
    const [one, two] = run.built as [RecordingWorker, RecordingWorker];

    run.dispatcher.lost('one');
    await run.dispatcher.drain('two', 1234);
    expect([one.stopped, two.stopped, two.drainBoundMs]).toEqual([true, true, 1234]);
    expect(run.dispatcher.ownedCount).toBe(0);
    // Stopped workers are offered nothing more (RecordingWorker.offer throws if they were).
    const [entry] = log.append(at(1, 'cdr.created', 'a'));
    await waitFor(() => one.hooks.head() === entry?.position, 5000, 'the dispatcher passed the entry');
    expect([one.offered, two.offered]).toEqual([[], []]);
    // Without its lease a later acquisition starts a new worker; a worker's lost lease goes to the ownership.
    run.dispatcher.acquired('one', 't3');
    expect(run.workerOf('one').map((worker) => worker.token)).toEqual(['t3']);
    run.workerOf('one')[0]?.hooks.leaseLost('one');
    expect(run.leaseLost).toEqual(['one']);
  });

  it('reloads a subscription changed through another node, and restarts its worker only when something it runs on changed', async () => {
    const { log, registry, run } = await loadedDispatcher([subscription('sub', 'call', 'a'), subscription('gone', 'call', 'a')]);
    run.dispatcher.acquired('sub', 'token');
    run.dispatcher.acquired('gone', 'token');
    const first = run.workerOf('sub')[0] as RecordingWorker;

    // Nothing changed: the same worker goes on.
    await run.dispatcher.refresh('sub');
    expect(run.workerOf('sub')).toEqual([first]);

    // Its domain changed on another node: a new worker on the new definition takes the new domain's events.
    registry.change('sub', () => registry.put(subscription('sub', 'call', 'b')));
    await waitFor(() => first.stopped && run.workerOf('sub').length === 1, 5000, 'the worker restarted on the new definition');
    const second = run.workerOf('sub')[0] as RecordingWorker;
    expect(second.def.domain).toBe('b');
    const [inA, inB] = log.append(at(1, 'call.ended', 'a'), at(2, 'call.ended', 'b'));
    await waitFor(() => second.offered.length === 1, 5000, 'the new worker got its event');
    expect(second.offered).toEqual([inB?.position]);
    expect(run.workerOf('gone')[0]?.offered).toEqual([inA?.position]);
    expect(run.changedCount()).toBe(1);

    // An operator's change (a new generation), asked twice at once: one restart, on the new state.
    registry.states.set('sub', deliveryState('1'));
    await Promise.all([run.dispatcher.refresh('sub'), second.hooks.stale('sub')]);
    await waitFor(() => second.stopped && run.workerOf('sub').length === 1, 5000, 'the worker restarted on the new generation');
    expect(run.workerOf('sub').map((worker) => worker.generation)).toEqual(['1']);
    expect(run.built.filter((worker) => worker.def.id === 'sub')).toHaveLength(3);

    // Two changes in a row, the first one's read answered last: the later definition wins.
    registry.put(subscription('sub', 'call', 'c'));
    const release = registry.holdNextGet();
    const toC = run.dispatcher.refresh('sub');
    registry.put(subscription('sub', 'call', 'd'));
    const toD = run.dispatcher.refresh('sub');
    release();
    await Promise.all([toC, toD]);
    expect(run.workerOf('sub').map((worker) => worker.def.domain)).toEqual(['d']);

    // A new preferred server and a deletion move placement: the ownership is asked to place again.
    registry.change('sub', () => registry.put(subscription('sub', 'call', 'b', { preferredServer: 'node-2' })));
    registry.change('gone', () => registry.defs.delete('gone'));
    await waitFor(() => run.changedCount() === 3, 5000, 'placement asked twice more');
    await waitFor(() => run.workerOf('gone').length === 0 && run.workerOf('sub')[0]?.def.preferredServer === 'node-2', 5000, 'the deletion and the move taken');
    expect(run.dispatcher.subscriptions()?.map((def) => def.id)).toEqual(['sub']);
    expect(run.dispatcher.ownedCount).toBe(1);
  });

  it('waits out a registry it cannot read at start, then starts the workers acquired meanwhile', async () => {
    const log = new MemoryLog();
    const registry = new MemoryRegistry([subscription('sub', 'cdr', '*')]);
    registry.failLoads(2);
    log.failReads(1);
    const run = startDispatcher(log, registry);
    run.dispatcher.acquired('sub', 'token');
    expect(run.built).toEqual([]);
    await waitFor(() => run.built.length === 1, 5000, 'the worker started once the registry loaded');
    expect(run.dispatcher.subscriptions()?.map((def) => def.id)).toEqual(['sub']);
    const [entry] = log.append(at(1, 'cdr.created', 'a'));
    await waitFor(() => run.built[0]?.offered.length === 1, 5000, 'the entry offered');
    expect(run.built[0]?.offered).toEqual([entry?.position]);
  });

  it('stops every worker at stop, and its loops end', async () => {
    const { log, run } = await loadedDispatcher([subscription('one', 'cdr', '*'), subscription('two', 'call', '*')]);
    run.dispatcher.acquired('one', 't1');
    run.dispatcher.acquired('two', 't2');
    await run.dispatcher.stop();
    await run.dispatcher.ended();
    expect(run.built.map((worker) => worker.stopped)).toEqual([true, true]);
    expect(run.dispatcher.ownedCount).toBe(0);
    // Entries after the stop reach no worker (a stopped RecordingWorker throws on an offer).
    log.append(at(1, 'cdr.created', 'a'));
    run.dispatcher.acquired('one', 't3');
    expect(run.built).toHaveLength(2);
  });
});
