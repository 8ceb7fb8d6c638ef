import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { ComponentFactory } from '../context.js';
import { Backoff, REDIS_RETRY } from '../core/backoff.js';
import type { AcceptedEvent, CdrCreatedData } from '../events/catalogue.js';
import { withinTenant } from '../events/tenant.js';
import { LOG_START, LogReader, positionTime, readableEvent, UnreadableEntries } from '../log/reader.js';
import { closeRedisClient, untilFirstConnect, type RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { ScriptReply, scripts } from '../redis/scripts.js';
import { ThrottledWarnings } from '../warnings.js';
import { EnigmaProfile } from '../profiles/enigma.js';
import { IntegratorRegistry, type IntegratorSpec } from './registry.js';

/** Log entries read per relay step; one script call pushes their messages. */
const RELAY_BATCH = 500;
/** How long one read waits for new entries (also how long close() may wait). */
const RELAY_BLOCK_MS = 1000;

/** A list filled from the log: which entries go to it, as which message. */
export interface RelayTarget {
  list: string;
  cursor: string;
  /** Where a new cursor starts (a log entry id); default: the log's end when the cursor is created. */
  from?: string;
  /** The message for a log entry (its event and the event's JSON), or undefined when it does not go to this list. */
  render(event: AcceptedEvent, json: string): string | undefined;
}

/**
 * Fills lists whose names are external contracts (the Enigma CDR list) from the event log, on
 * Redis Cluster, where they cannot share the log's slot and the append script cannot write them.
 *
 * Each list has a cursor (the last log entry relayed) in the list's own slot. A step reads the
 * entries after the cursor and pushes their messages and the new cursor in one atomic script
 * (src/redis/lua/relayPush.lua) that refuses when the cursor moved: every hub may run the relay
 * at once, crash at any point and restart, and each message still lands exactly once, in log
 * order. A list whose cursor does not exist yet starts at the end of the log.
 */
export class ListRelay {
  private readonly running = new Map<string, { stop: boolean; loop: Promise<void>; client: RedisClient }>();
  private closed = false;
  private readonly warnings: ThrottledWarnings;
  /** Per list: the log entry id relayed last, as this node knows it. */
  readonly positions = new Map<string, string>();

  constructor(
    /** A connection per list: each one's XREAD BLOCK holds its connection to the log's node while it waits. */
    private readonly openClient: (list: string) => RedisClient,
    private readonly keys: Keys,
    private readonly logger: Logger,
    private readonly unreadable: UnreadableEntries,
  ) {
    this.warnings = new ThrottledWarnings(logger);
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
      running.stop = true;
      this.running.delete(list);
      this.positions.delete(list);
      void running.loop.finally(() => closeRedisClient(running.client));
    }
    const added = targets.filter((target) => !this.running.has(target.list));
    await Promise.all(
      added.map(async (target) => {
        const client = this.openClient(target.list);
        const state = { stop: false, loop: Promise.resolve(), client };
        this.running.set(target.list, state);
        await untilFirstConnect(client, 3000);
        const cursor = await this.startingCursor(client, target).catch(() => undefined);
        if (this.closed) {
          await closeRedisClient(client);
          return;
        }
        state.loop = this.run(client, target, cursor, state);
      }),
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.running.values()];
    this.running.clear();
    for (const running of all) running.stop = true;
    await Promise.allSettled(all.map((running) => running.loop));
    await Promise.all(all.map((running) => closeRedisClient(running.client)));
  }

  private async run(client: RedisClient, target: RelayTarget, initial: string | undefined, state: { stop: boolean }): Promise<void> {
    let cursor = initial;
    const backoff = new Backoff(REDIS_RETRY);
    while (!state.stop) {
      try {
        cursor ??= await this.startingCursor(client, target);
        cursor = await this.step(client, target, cursor);
        backoff.reset();
        if (!state.stop) this.positions.set(target.list, cursor);
      } catch (error) {
        if (state.stop) break;
        this.warnings.warn(`list relay: step for ${target.list} failed; retrying`, error, { list: target.list });
        cursor = undefined; // read it again: another hub may have moved it meanwhile
        await backoff.wait(undefined, { ref: false });
      }
    }
  }

  /** The cursor in Redis; created at the target's start (default: the log's end) when the list has none yet. */
  private async startingCursor(client: RedisClient, target: RelayTarget): Promise<string> {
    const current = await client.get(target.cursor);
    if (current !== null) return current;
    let from = target.from;
    from ??= await this.logOf(client).head();
    const [, cursor] = (await scripts.relayPush.run(client, [target.list, target.cursor], ['', from])) as [ScriptReply, string];
    this.logger.info({ list: target.list, cursor }, 'list relay: cursor created');
    return cursor;
  }

  /** Relays the entries after `cursor` (waiting a while for some); returns the cursor now in Redis. */
  private async step(client: RedisClient, target: RelayTarget, cursor: string): Promise<string> {
    const entries = await this.logOf(client).wait(cursor, RELAY_BATCH, RELAY_BLOCK_MS);
    const last = entries.at(-1);
    if (!last) return cursor;
    const messages: string[] = [];
    for (const entry of entries) {
      // An unreadable entry is skipped (the reader counted and logged it): the cursor moves past it.
      const event = readableEvent(entry);
      const message = event && target.render(event, entry.json);
      if (message !== undefined) messages.push(message);
    }
    const [moved, now] = (await scripts.relayPush.run(client, [target.list, target.cursor], [cursor, last.position, ...messages])) as [ScriptReply, string];
    return moved === ScriptReply.OK ? now : now || cursor;
  }

  private logOf(client: RedisClient): LogReader {
    return new LogReader(client, this.keys.eventLog, this.unreadable);
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
  const relay = new ListRelay((list) => context.openRedis({ name: `switchboard-list-relay:${list.replace(/[^\w:.-]/g, "_")}` }), keys, log, unreadable);
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
      await relay.close();
      await closeRedisClient(registry);
    },
  };
};
