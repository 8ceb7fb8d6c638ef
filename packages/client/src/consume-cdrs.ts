import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, createCluster, createSentinel } from 'redis';
import { decode, parseEvent } from './codec.js';
import { claimIdleEntries, type AnyRedisClient, type StreamEntry } from './dead-letter.js';
import type { CatalogueEvent, EventType } from './events.js';
import { integratorKeys } from './keys.js';

/**
 * One entry of the integrators' stream, as the handler sees it: an event of one of the types `T`
 * (`cdr.created` unless `types` says more), its `data` typed from the catalogue's schema;
 * `cdr.type` narrows it.
 */
export type Cdr<T extends EventType = 'cdr.created'> = {
  [K in T]: {
    /** Position in the stream (what XACK takes); also a replay cursor. */
    streamId: string;
    /** The event id: stable across redeliveries and replays, the key to deduplicate on. */
    id: string;
    type: K;
    /** The accepted event: `{id, type, time, source?, scope?, data}`. */
    event: CatalogueEvent<K>;
  };
}[T];

export interface ConsumeCdrsOptions<T extends EventType = 'cdr.created'> {
  /**
   * Where the hub's Redis is, with the same options as the hub's `redis.*` config: one of `url`,
   * `sentinel`, `cluster`. The helper opens (and closes) its own connection. Or pass `client`.
   */
  url?: string;
  /** A master watched by Sentinels: `{ name, sentinels: ['host:port', …], password?, sentinelPassword? }`. */
  sentinel?: { name: string; sentinels: string[]; password?: string; sentinelPassword?: string };
  /** A Redis Cluster: `{ nodes: ['host:port', …], password? }` (every key the loop uses is in one slot). */
  cluster?: { nodes: string[]; password?: string };
  /** A connected node-redis client used only by this loop (XREADGROUP blocks it). */
  client?: AnyRedisClient;
  /** The integrator (= consumer group) name. */
  integrator: string;
  /**
   * Every type the integrator is registered for (`POST /v1/integrators {types}`); default
   * `['cdr.created']`, the registration's default. The handler is typed for these, and the loop
   * refuses to start when the registration names a type missing here.
   */
  types?: readonly T[];
  /** This worker's name, stable across restarts so it picks up its own pending entries first. */
  consumer: string;
  /** Processes one CDR; resolving acknowledges it, throwing leaves it pending for a redelivery. */
  handler: (cdr: Cdr<T>) => Promise<void> | void;
  /** The hub's keyPrefix (default `switchboard`); keys are derived as the registration answer names them. */
  keyPrefix?: string;
  /** Entries per read. Default 100. */
  count?: number;
  /** How long a read waits for new entries; also the longest an abort waits. Default 2000. */
  blockMs?: number;
  /** Entries pending this long with another (dead) worker are claimed by this one; longer than any handler call. Default 30000. */
  claimIdleMs?: number;
  /** How often to look for idle entries to claim; default claimIdleMs / 2. */
  claimIntervalMs?: number;
  /** Idle entries delivered this often move to the dead-letter stream instead of being claimed again. Default 5. */
  maxDeliveries?: number;
  /** Approximate cap of the dead-letter stream. Default 100000. */
  deadLetterMaxLength?: number;
  signal?: AbortSignal;
  /** Handler failures and Redis errors (the loop carries on). */
  onError?: (error: unknown, cdr?: Cdr<T>) => void;
}

/**
 * Runs the read → process → ack → claim loop of one worker of an integrator until `signal`
 * aborts: first this consumer's own pending entries (history `0`, left by a crash), then new
 * ones (`>`); entries idle past `claimIdleMs` with other workers are claimed, and poison ones
 * (delivered `maxDeliveries` times) go to the dead-letter stream instead, in the same script call. Entries of types
 * the integrator did not register for (the stream is shared) are acknowledged without the handler.
 * Delivery is at least once: deduplicate on `cdr.id`. Rejects when the integrator is removed.
 */
export async function consumeCdrs<T extends EventType = 'cdr.created'>(options: ConsumeCdrsOptions<T>): Promise<void> {
  const own = options.client ? undefined : connect(options, `switchboard-consumer-${options.consumer}`);
  if (own) {
    own.on('error', (error: unknown) => options.onError?.(error));
    await own.connect();
  }
  try {
    await new Consumer<T>(options.client ?? (own as OwnConnection).commands, options).run();
  } finally {
    if (own) await own.close();
  }
}

interface OwnConnection {
  commands: AnyRedisClient;
  on(event: 'error', listener: (error: unknown) => void): void;
  connect(): Promise<unknown>;
  close(): Promise<void>;
}

/** RESP2 replies (the loop reads raw arrays), capped reconnect back-off, a bounded connect. */
const socket = { connectTimeout: 2000, reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000) };

function address(text: string): { host: string; port: number } {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim());
  if (!match) throw new TypeError(`expected host:port, got "${text}"`);
  return { host: match[1] as string, port: Number(match[2]) };
}

/** node-redis's own client for the one topology the options name. */
function connect(options: Pick<ConsumeCdrsOptions, 'url' | 'sentinel' | 'cluster' | 'keyPrefix'>, name: string): OwnConnection {
  const given = [options.url, options.sentinel, options.cluster].filter((value) => value !== undefined);
  if (given.length !== 1) throw new TypeError('consumeCdrs needs exactly one of `url`, `sentinel`, `cluster`, or a `client`');
  const close = (client: { close(): Promise<void>; destroy(): unknown }) => async () => {
    await client.close().catch(() => client.destroy());
  };
  if (options.sentinel) {
    const { sentinel: config } = options;
    const sentinel = createSentinel({
      name: config.name,
      sentinelRootNodes: config.sentinels.map(address),
      RESP: 2,
      nodeClientOptions: { name, socket, ...(config.password ? { password: config.password } : {}) },
      sentinelClientOptions: { socket, ...(config.sentinelPassword ? { password: config.sentinelPassword } : {}) },
      passthroughClientErrorEvents: true,
    });
    const commands = { sendCommand: (args: string[]) => sentinel.sendCommand(false, args) } as unknown as AnyRedisClient;
    return { commands, on: (event, listener) => void sentinel.on(event, listener), connect: () => sentinel.connect(), close: close(sentinel) };
  }
  if (options.cluster) {
    const { cluster: config } = options;
    const cluster = createCluster({
      rootNodes: config.nodes.map((node) => ({ socket: address(node) })),
      defaults: { name, socket, ...(config.password ? { password: config.password } : {}) },
      RESP: 2,
    });
    // Every key the loop touches carries the `{log}` hash tag: one slot, one node.
    const slotKey = integratorKeys(options.keyPrefix).cdrStream;
    const commands = { sendCommand: (args: string[]) => cluster.sendCommand(slotKey, false, args) } as unknown as AnyRedisClient;
    return { commands, on: (event, listener) => void cluster.on(event, listener), connect: () => cluster.connect(), close: close(cluster) };
  }
  const client = createClient({ url: options.url as string, name, RESP: 2, socket });
  return { commands: client as unknown as AnyRedisClient, on: (event, listener) => void client.on(event, listener), connect: () => client.connect(), close: close(client) };
}

class Consumer<T extends EventType> {
  private readonly keys: ReturnType<typeof integratorKeys>;
  private readonly count: number;
  private readonly blockMs: number;
  private readonly claimIdleMs: number;
  private readonly claimIntervalMs: number;
  private types: Set<string> | undefined;
  private stream: string;

  constructor(
    private readonly client: AnyRedisClient,
    private readonly options: ConsumeCdrsOptions<T>,
  ) {
    this.keys = integratorKeys(options.keyPrefix);
    this.stream = this.keys.cdrStream;
    this.count = options.count ?? 100;
    this.blockMs = options.blockMs ?? 2000;
    this.claimIdleMs = options.claimIdleMs ?? 30_000;
    this.claimIntervalMs = options.claimIntervalMs ?? Math.max(10, Math.floor(this.claimIdleMs / 2));
  }

  private get aborted(): boolean {
    return this.options.signal?.aborted ?? false;
  }

  async run(): Promise<void> {
    const { integrator } = this.options;
    const spec = (await this.client.sendCommand(['HGET', this.keys.registry, integrator])) as string | null;
    if (!spec) throw new Error(`no integrator "${integrator}" is registered (POST /v1/integrators)`);
    const registration = JSON.parse(spec) as { types: string[]; streamKey?: string };
    const handled = new Set<string>(this.options.types ?? ['cdr.created']);
    const unhandled = registration.types.filter((type) => !handled.has(type));
    if (unhandled.length > 0) {
      const all = registration.types.map((type) => `'${type}'`).join(', ');
      throw new TypeError(`integrator "${integrator}" is registered for ${unhandled.join(', ')} as well: pass types: [${all}] so the handler is typed for every type it receives`);
    }
    this.types = new Set(registration.types);
    // An integrator limited to a tenant reads its own stream (the registration names it).
    this.stream = registration.streamKey ?? this.keys.cdrStream;

    let history: string | undefined = '0';
    let nextClaimAt = Date.now() + this.claimIntervalMs;
    while (!this.aborted) {
      try {
        if (Date.now() >= nextClaimAt) {
          await this.rescue();
          nextClaimAt = Date.now() + this.claimIntervalMs;
        }
        if (history !== undefined) {
          // Own pending entries first: a crash left them delivered to us and unacknowledged.
          const entries = await this.read(history, false);
          if (entries.length === 0) history = undefined;
          else {
            history = entries.at(-1)?.[0];
            await this.process(entries);
          }
        } else {
          await this.process(await this.read('>', true));
        }
      } catch (error) {
        if (this.aborted) break;
        // The group is gone: stop rather than retry forever, if the integrator was removed.
        if (error instanceof Error && error.message.startsWith('NOGROUP') && !(await this.registered())) {
          throw new Error(`integrator "${integrator}" was removed`, { cause: error });
        }
        this.options.onError?.(error);
        history = '0'; // a batch may have been cut short: its entries are ours, pending
        await sleep(200);
      }
    }
  }

  private async registered(): Promise<boolean> {
    return Number(await this.client.sendCommand(['HEXISTS', this.keys.registry, this.options.integrator])) === 1;
  }

  private async read(from: string, block: boolean): Promise<StreamEntry[]> {
    const args = ['XREADGROUP', 'GROUP', this.options.integrator, this.options.consumer, 'COUNT', String(this.count)];
    if (block) args.push('BLOCK', String(this.blockMs));
    args.push('STREAMS', this.stream, from);
    const reply = (await this.client.sendCommand(args)) as [string, StreamEntry[]][] | null;
    return reply?.[0]?.[1] ?? [];
  }

  /** Dead-letters poison entries and claims the other idle ones to this worker (one script), then processes them. */
  private async rescue(): Promise<void> {
    const target = {
      stream: this.stream,
      deadLetter: this.keys.deadLetters(this.options.integrator),
      counters: this.keys.counters,
      group: this.options.integrator,
      claimIdleMs: this.claimIdleMs,
      maxDeliveries: this.options.maxDeliveries ?? 5,
      deadLetterMaxLength: this.options.deadLetterMaxLength ?? 100_000,
    };
    for await (const entries of claimIdleEntries(this.client, target, this.options.consumer)) {
      await this.process(entries);
      if (this.aborted) return;
    }
  }

  private async process(entries: StreamEntry[]): Promise<void> {
    const acks: string[] = [];
    for (const [streamId, fields] of entries) {
      const entry = decode(fields);
      // No payload (the hard cap dropped it, counted as lost by the hub), no event, or a type not ours: skip.
      if (!entry || !this.types?.has(entry.type)) {
        acks.push(streamId);
        continue;
      }
      const event = parseEvent(entry);
      if (!event) {
        // Left pending like a failed handler call: claimed again later, then dead-lettered at maxDeliveries.
        this.options.onError?.(new Error(`stream entry ${streamId} holds unreadable JSON (or not an event of its type "${entry.type}")`));
        continue;
      }
      // The hub validated the event against the catalogue before logging it; its type is one of T (checked in run).
      const cdr = { streamId, id: entry.id, type: entry.type, event } as Cdr<T>;
      try {
        await this.options.handler(cdr);
        acks.push(streamId);
      } catch (error) {
        this.options.onError?.(error, cdr);
      }
      if (this.aborted) break;
    }
    if (acks.length > 0) await this.client.sendCommand(['XACK', this.stream, this.options.integrator, ...acks]);
  }
}
