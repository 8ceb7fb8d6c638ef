import { positionTime } from '../log/reader.js';
import type { Logger } from 'pino';
import { Gauge } from 'prom-client';
import type { ComponentFactory } from '../context.js';
import type { AcceptedEvent, CdrCreatedData } from '../events/catalogue.js';
import { closeRedisClient, untilFirstConnect, type RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/scripts.js';
import { EnigmaProfile } from './enigma.js';

/** Log entries read per relay step; one script call pushes their messages. */
const RELAY_BATCH = 500;
/** How long one read waits for new entries (also how long close() may wait). */
const RELAY_BLOCK_MS = 1000;
const RETRY_MS = 500;

/** A list filled from the log: which entries go to it, as which message. */
export interface RelayTarget {
  list: string;
  cursor: string;
  /** The message for a log entry, or undefined when the entry does not go to this list. */
  render(event: AcceptedEvent): string | undefined;
}

type LogEntry = [string, string[]];

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
  private readonly script = new LuaScript('relayPush');
  private readonly loops: Promise<void>[] = [];
  private stopped = false;
  /** Per list: the log entry id relayed last, as this node knows it. */
  readonly positions = new Map<string, string>();

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    private readonly targets: readonly RelayTarget[],
    private readonly logger: Logger,
  ) {}

  /**
   * Creates the cursors a list lacks (at the log's current end) and starts relaying. Called
   * before intake opens, so a new list gets every CDR accepted from the first request on.
   */
  async start(): Promise<void> {
    const cursors = await Promise.all(this.targets.map((target) => this.startingCursor(target).catch(() => undefined)));
    this.targets.forEach((target, index) => this.loops.push(this.run(target, cursors[index])));
  }

  async close(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled(this.loops);
  }

  private async run(target: RelayTarget, initial: string | undefined): Promise<void> {
    let cursor = initial;
    while (!this.stopped) {
      try {
        cursor ??= await this.startingCursor(target);
        cursor = await this.step(target, cursor);
        this.positions.set(target.list, cursor);
      } catch (error) {
        if (this.stopped) break;
        this.logger.warn({ err: error, list: target.list }, 'list relay: step failed; retrying');
        cursor = undefined; // read it again: another hub may have moved it meanwhile
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
      }
    }
  }

  /** The cursor in Redis; created at the log's end when the list has none yet. */
  private async startingCursor(target: RelayTarget): Promise<string> {
    const current = await this.client.get(target.cursor);
    if (current !== null) return current;
    const [last] = (await this.client.sendCommand<LogEntry[]>(['XREVRANGE', this.keys.eventLog, '+', '-', 'COUNT', '1'])) ?? [];
    const [, cursor] = (await this.script.run(this.client, [target.list, target.cursor], ['', last?.[0] ?? '0-0'])) as [number, string];
    this.logger.info({ list: target.list, cursor }, 'list relay: starting at the end of the event log');
    return cursor;
  }

  /** Relays the entries after `cursor` (waiting a while for some); returns the cursor now in Redis. */
  private async step(target: RelayTarget, cursor: string): Promise<string> {
    const reply = await this.client.sendCommand<[string, LogEntry[]][] | null>([
      'XREAD', 'COUNT', String(RELAY_BATCH), 'BLOCK', String(RELAY_BLOCK_MS), 'STREAMS', this.keys.eventLog, cursor,
    ]);
    const entries = reply?.[0]?.[1] ?? [];
    const last = entries.at(-1);
    if (!last) return cursor;
    const messages: string[] = [];
    for (const [, fields] of entries) {
      const event = eventOf(fields);
      const message = event && target.render(event);
      if (message !== undefined) messages.push(message);
    }
    const [moved, now] = (await this.script.run(this.client, [target.list, target.cursor], [cursor, last[0], ...messages])) as [number, string];
    return moved === 1 ? now : now || cursor;
  }
}

function eventOf(fields: string[]): AcceptedEvent | undefined {
  for (let i = 0; i + 1 < fields.length; i += 2) {
    if (fields[i] === 'event') return JSON.parse(fields[i + 1] as string) as AcceptedEvent;
  }
  return undefined;
}

/** The relay of the Enigma CDR list; runs only on Redis Cluster (elsewhere the append script pushes it). */
export const listRelayComponent: ComponentFactory = async (context) => {
  const { config, keys, logger } = context;
  if (context.redisTopology.kind !== 'cluster' || !config.profiles.enigma.enabled) return { name: 'list-relay', close: async () => {} };
  const enigma = new EnigmaProfile(keys, config.profiles.enigma);
  const targets: RelayTarget[] = [
    {
      list: keys.enigmaCdrList,
      cursor: keys.relayCursor(keys.enigmaCdrList),
      render: (event) => (event.type === 'cdr.created' ? enigma.cdrMessage(event.data as CdrCreatedData) : undefined),
    },
  ];
  // Its own connection: XREAD BLOCK holds the connection to the log's node while it waits.
  const client = context.openRedis({ name: 'switchboard-list-relay' });
  const relay = new ListRelay(client, keys, targets, logger.child({ component: 'list-relay' }));
  new Gauge({
    name: 'switchboard_list_relay_position_ms',
    help: 'Acceptance time (ms since epoch) of the last log entry relayed to each list (Redis Cluster)',
    labelNames: ['list'] as const,
    registers: [context.metrics.registry],
    collect() {
      for (const [list, position] of relay.positions) this.set({ list }, positionTime(position));
    },
  });
  return {
    name: 'list-relay',
    async start() {
      // Redis down at start: the cursors are created once it is up (CDRs spooled meanwhile may precede them).
      if (await untilFirstConnect(client, 3000)) await relay.start();
      else void relay.start();
    },
    async close() {
      await relay.close();
      await closeRedisClient(client);
    },
  };
};
