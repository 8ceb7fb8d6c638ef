import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { ComponentFactory } from '../context.js';
import { Backoff, REDIS_RETRY } from '../core/backoff.js';
import type { AcceptedEvent, CdrCreatedData } from '../events/catalogue.js';
import { withinTenant } from '../events/tenant.js';
import type { LogEntry } from '../log/codec.js';
import type { FeedSubscription, LogFeed } from '../log/feed.js';
import { comparePositions, LOG_START, LogReader, positionTime, readableEvent, UnreadableEntries } from '../log/reader.js';
import { closeRedisClient, untilFirstConnect, type RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { ScriptReply, scripts } from '../redis/scripts.js';
import { ThrottledWarnings } from '../warnings.js';
import { EnigmaProfile } from '../profiles/enigma.js';
import { IntegratorRegistry, type IntegratorSpec } from './registry.js';

/** Log entries per relay step; one script call pushes their messages. */
const RELAY_BATCH = 500;
/** Entries a list holds while its pushes lag the feed; beyond, it reads the log at its own pace from where it is. */
const RELAY_MAX_PENDING = 10 * RELAY_BATCH;

/** A list filled from the log: which entries go to it, as which message. */
export interface RelayTarget {
  list: string;
  cursor: string;
  /** Where a new cursor starts (a log entry id); default: the log's end when the cursor is created. */
  from?: string;
  /** The message for a log entry (its event and the event's JSON), or undefined when it does not go to this list. */
  render(event: AcceptedEvent, json: string): string | undefined;
}

interface RelayDeps {
  feed: LogFeed;
  /** Patient connection for the cursors and pushes (no blocking read: the feed follows the log). */
  client: RedisClient;
  keys: Keys;
  logger: Logger;
  warnings: ThrottledWarnings;
  unreadable: UnreadableEntries;
  positions: Map<string, string>;
}

/**
 * Fills lists whose names are external contracts (the Enigma CDR list) from the event log, on
 * Redis Cluster, where they cannot share the log's slot and the append script cannot write them.
 *
 * Each list has a cursor (the last log entry relayed) in the list's own slot. Each list is a
 * consumer of the hub's log feed from its cursor; a step pushes the messages of the entries after
 * the cursor and the new cursor in one atomic script (src/redis/lua/relayPush.lua) that refuses
 * when the cursor moved: every hub may run the relay at once, crash at any point and restart, and
 * each message still lands exactly once, in log order. A list whose cursor does not exist yet
 * starts at the end of the log.
 */
export class ListRelay {
  private readonly running = new Map<string, RelayedList>();
  private closed = false;
  private readonly deps: RelayDeps;
  /** Per list: the log entry id relayed last, as this node knows it. */
  readonly positions = new Map<string, string>();

  constructor(feed: LogFeed, client: RedisClient, keys: Keys, logger: Logger, unreadable: UnreadableEntries) {
    this.deps = { feed, client, keys, logger, warnings: new ThrottledWarnings(logger), unreadable, positions: this.positions };
  }

  /**
   * Relays exactly these targets from now on: starts the new ones (their missing cursors are
   * created first, so a list gets every entry from its start position on) and stops the others.
   */
  async sync(targets: readonly RelayTarget[]): Promise<void> {
    if (this.closed) return;
    const wanted = new Set(targets.map((target) => target.list));
    for (const [list, running] of this.running) {
      if (wanted.has(list)) continue;
      this.running.delete(list);
      void running.stop();
    }
    const added = targets.filter((target) => !this.running.has(target.list)).map((target) => new RelayedList(target, this.deps));
    for (const list of added) this.running.set(list.target.list, list);
    await Promise.all(added.map((list) => list.start()));
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    await Promise.allSettled(all.map((running) => running.stop()));
  }
}

/** One relayed list: the feed's entries after its cursor, pushed in batches, one step at a time. */
class RelayedList {
  private pending: LogEntry[] = [];
  /** The cursor in Redis, as this node last wrote or read it. */
  private cursor = '';
  /** The last entry taken into `pending` (or the cursor). */
  private queuedTo = '';
  private subscription: FeedSubscription | undefined;
  /** Each subscription's entries are taken only while it is the current one. */
  private generation = 0;
  /** The buffer overflowed: the list follows the feed again once it is pushed. */
  private overflowed = false;
  private stopped = false;
  private pumping: Promise<void> | undefined;
  private starting: Promise<void> = Promise.resolve();
  private readonly backoff = new Backoff(REDIS_RETRY);

  constructor(
    readonly target: RelayTarget,
    private readonly deps: RelayDeps,
  ) {}

  /** Reads (or creates) the cursor, then follows the feed from it; Redis away: retried in the background. */
  async start(): Promise<void> {
    try {
      this.attach(await this.startingCursor());
    } catch (error) {
      this.deps.warnings.warn(`list relay: cannot read the cursor of ${this.target.list}; retrying`, error, { list: this.target.list });
      this.starting = this.restart();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.detach();
    this.deps.positions.delete(this.target.list);
    await Promise.allSettled([this.starting, this.pumping]);
  }

  private attach(cursor: string): void {
    if (this.stopped) return;
    this.cursor = this.queuedTo = cursor;
    this.pending = [];
    this.overflowed = false;
    this.deps.positions.set(this.target.list, cursor);
    const generation = ++this.generation;
    this.subscription = this.deps.feed.subscribe(cursor, { deliver: (entries) => (generation === this.generation ? this.take(entries) : undefined) });
  }

  private detach(): void {
    this.generation += 1;
    this.subscription?.close();
    this.subscription = undefined;
  }

  /** Queues the feed's entries; while the feed catches this list up, it waits for the pushes (backpressure). */
  private take(entries: readonly LogEntry[]): Promise<void> {
    for (const entry of entries) {
      if (comparePositions(entry.position, this.queuedTo) <= 0) continue;
      this.pending.push(entry);
      this.queuedTo = entry.position;
    }
    // Too far behind to buffer: follow again from the last entry queued once these are pushed.
    if (this.pending.length > RELAY_MAX_PENDING && !this.overflowed) {
      this.overflowed = true;
      this.detach();
    }
    return this.pump();
  }

  private pump(): Promise<void> {
    this.pumping ??= this.push().finally(() => {
      this.pumping = undefined;
      if (this.stopped) return;
      // Entries taken while the last step finished, or a list that fell behind and follows again.
      if (this.pending.length > 0) void this.pump();
      else if (this.overflowed) this.attach(this.queuedTo);
    });
    return this.pumping;
  }

  /** Pushes the pending entries' messages, a batch per step, until none is left. */
  private async push(): Promise<void> {
    const { client, unreadable } = this.deps;
    while (!this.stopped && this.pending.length > 0) {
      const batch = this.pending.slice(0, RELAY_BATCH);
      const last = (batch.at(-1) as LogEntry).position;
      const messages: string[] = [];
      for (const entry of batch) {
        // An unreadable entry is skipped (counted once under reader="list-relay"): the cursor moves past it.
        const event = readableEvent(entry, unreadable);
        const message = event && this.target.render(event, entry.json);
        if (message !== undefined) messages.push(message);
      }
      let reply: [ScriptReply, string];
      try {
        reply = (await scripts.relayPush.run(client, [this.target.list, this.target.cursor], [this.cursor, last, ...messages])) as [ScriptReply, string];
        this.backoff.reset();
      } catch (error) {
        if (this.stopped) return;
        this.deps.warnings.warn(`list relay: step for ${this.target.list} failed; retrying`, error, { list: this.target.list });
        await this.backoff.wait(undefined, { ref: false });
        continue;
      }
      if (this.stopped) return;
      const [outcome, now] = reply;
      if (outcome === ScriptReply.OK) {
        this.pending.splice(0, batch.length);
        this.cursor = now;
        this.deps.positions.set(this.target.list, now);
        continue;
      }
      // Another hub relayed these (or the cursor is gone): follow again from the cursor in Redis.
      this.detach();
      this.pending = [];
      this.overflowed = false;
      this.starting = this.restart(now || undefined);
      return;
    }
  }

  /** Follows the feed again from `cursor`, or from the cursor in Redis (created if missing), retrying while Redis is away. */
  private async restart(cursor?: string): Promise<void> {
    while (!this.stopped) {
      try {
        this.attach(cursor ?? (await this.startingCursor()));
        return;
      } catch (error) {
        this.deps.warnings.warn(`list relay: cannot read the cursor of ${this.target.list}; retrying`, error, { list: this.target.list });
        await this.backoff.wait(undefined, { ref: false });
      }
    }
  }

  /** The cursor in Redis; created at the target's start (default: the log's end) when the list has none yet. */
  private async startingCursor(): Promise<string> {
    const { client, keys, logger } = this.deps;
    const current = await client.get(this.target.cursor);
    if (current !== null) return current;
    const from = this.target.from ?? (await new LogReader(client, keys.eventLog).head());
    const [, cursor] = (await scripts.relayPush.run(client, [this.target.list, this.target.cursor], ['', from])) as [ScriptReply, string];
    logger.info({ list: this.target.list, cursor }, 'list relay: cursor created');
    return cursor;
  }
}

/** How often the relay looks for integrators that chose their list's name (registered on any hub). */
const REGISTRY_POLL_MS = 1000;

/**
 * Relays the lists whose names are external contracts: on Redis Cluster the Enigma CDR list
 * (elsewhere the append script pushes it), and on every topology the legacy lists whose names
 * integrators chose. The same messages as the append script would push: the Enigma CDR message
 * for a CDR, else the event's JSON, for the integrator's types and tenant.
 */
export const listRelayComponent: ComponentFactory = async (context) => {
  const { config, keys, logger } = context;
  const enigma = new EnigmaProfile(keys, config.profiles.enigma);
  const cdrMessage = (event: AcceptedEvent) => enigma.cdrMessage(event.data as CdrCreatedData);
  const registry = context.openRedis({ name: 'switchboard-list-relay-registry' });
  const integrators = new IntegratorRegistry(registry, keys);
  const onCluster = context.redisTopology.kind === 'cluster' && config.profiles.enigma.enabled;
  // A new Enigma list starts where the log is now, before this hub takes its first event (the
  // cursor, once created by any hub, wins).
  let enigmaFrom: string | undefined;
  if (onCluster && (await untilFirstConnect(registry, 3000))) {
    enigmaFrom = await new LogReader(registry, keys.eventLog).head().catch(() => LOG_START);
  }
  const fixed: RelayTarget[] = onCluster
    ? [
        {
          list: keys.enigmaCdrList,
          cursor: keys.relayCursor(keys.enigmaCdrList),
          ...(enigmaFrom ? { from: enigmaFrom } : {}),
          render: (event) => (event.type === 'cdr.created' ? cdrMessage(event) : undefined),
        },
      ]
    : [];
  const integratorTarget = (spec: IntegratorSpec & { list: string }): RelayTarget => {
    const types = new Set<string>(spec.types);
    return {
      list: spec.list,
      cursor: keys.relayCursor(spec.list),
      ...(spec.relayFrom ? { from: spec.relayFrom } : {}),
      render: (event, json) => {
        if (!types.has(event.type)) return undefined;
        // The append script's rule (op I of src/redis/lua/appendEvents.lua): the event's scope, '' where it names none.
        if (!withinTenant({ reseller: event.scope?.reseller ?? '', domain: event.scope?.domain ?? '' }, spec.scope)) return undefined;
        return event.type === 'cdr.created' ? cdrMessage(event) : json;
      },
    };
  };

  const log = logger.child({ component: 'list-relay' });
  const unreadable = new UnreadableEntries('list-relay', context.metrics.logEntriesUnreadable, log);
  // The relay reads the log through the hub's feed: its pushes and cursors share the registry's connection.
  const relay = new ListRelay(context.feed, registry, keys, log, unreadable);
  const targets = async (): Promise<RelayTarget[]> => {
    const specs = await integrators.list();
    return [...fixed, ...specs.filter((spec): spec is IntegratorSpec & { list: string } => spec.relayed === true && spec.list !== undefined).map(integratorTarget)];
  };
  new Gauge({
    name: 'switchboard_list_relay_position_ms',
    help: 'Acceptance time (ms since epoch) of the last log entry relayed to each relayed list',
    labelNames: ['list'] as const,
    registers: [context.metrics.registry],
    collect() {
      this.reset();
      for (const [list, position] of relay.positions) this.set({ list }, positionTime(position));
    },
  });

  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  const registryWarnings = new ThrottledWarnings(log);
  const poll = async () => {
    try {
      await relay.sync(await targets());
    } catch (error) {
      // Closing destroys the connection under the read: that is no failure to report.
      if (!closed) registryWarnings.warn('list relay: cannot read the integrator registry; retrying', error);
    }
    if (!closed) timer = setTimeout(() => void poll(), REGISTRY_POLL_MS);
  };
  return {
    name: 'list-relay',
    async start() {
      // Redis down at start: the cursors are created once it is up. An integrator's list starts
      // at its registration; a new Enigma list where the log is when its cursor is created.
      if (await untilFirstConnect(registry, 3000)) await poll();
      else void poll();
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      // With Redis away a push would wait for it: drop the connection so the lists stop at once
      // (their cursors hold what was relayed; the next start carries on from there).
      if (!registry.isReady) registry.destroy();
      await relay.close();
      await closeRedisClient(registry);
    },
  };
};
