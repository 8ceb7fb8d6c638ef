import { EventEmitter } from 'node:events';
import { createClient, createCluster, createSentinel } from 'redis';
import { backoffDelayMs } from '../core/backoff.js';

/** A `host:port` a client connects to first (a Sentinel or a cluster node). */
export interface RedisNodeAddress {
  host: string;
  port: number;
}

/**
 * Where Redis is: one node, a Sentinel-watched master (and its replicas), or a Redis Cluster.
 * Every Switchboard connection (hub, components, CLI, the client library) is made from one of
 * these, by `createRedisClient`.
 */
export type RedisTopology =
  | { kind: 'single'; url: string }
  | { kind: 'sentinel'; name: string; sentinels: RedisNodeAddress[]; password?: string; sentinelPassword?: string }
  | { kind: 'cluster'; nodes: RedisNodeAddress[]; password?: string };

/** The node-redis client shape the typed command helpers come from (all three kinds share them). */
type NodeClient = ReturnType<typeof createNodeClient>;
type NodeSentinel = ReturnType<typeof createNodeSentinel>;
type NodeCluster = ReturnType<typeof createNodeCluster>;

export interface RedisClientOptions {
  /** The topology; `url` is a shorthand for a single node. */
  topology?: RedisTopology;
  url?: string;
  /**
   * Commands not written to the socket within this time fail (node-redis: "not sent", so safe to
   * spool). Undefined makes the client patient, for blocking reads and background work; 0 means
   * no node-redis timeout (the caller keeps its own deadline).
   */
  commandTimeoutMs?: number;
  /** Fail at once while disconnected instead of queueing: intake must spool, not wait. */
  failFast?: boolean;
  name?: string;
  /**
   * Sentinel only: every command goes to one master connection held for the client's life, so
   * `WAIT` after a write counts the replicas of that write (the log writer needs this), and a
   * failed command is not re-sent to a new master behind the caller's back.
   */
  pinned?: boolean;
}

/**
 * Reconnect quickly at first, then about every second: a Redis restart or failover takes
 * seconds. Jittered, so the hub's connections (and other hubs') do not reconnect in step.
 */
const reconnectStrategy = (retries: number) => backoffDelayMs(retries, 50, 1000);
const CONNECT_TIMEOUT_MS = 2000;
const CLUSTER_TOPOLOGY_REFRESH_MS = 1000;
const GRACEFUL_CLOSE_MS = 1000;

function nodeOptions(options: RedisClientOptions, password: string | undefined) {
  return {
    disableOfflineQueue: options.failFast ?? false,
    maintNotifications: 'disabled' as const,
    ...(password === undefined ? {} : { password }),
    ...(options.name === undefined ? {} : { name: options.name }),
    socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy },
  };
}

function commandOptions(options: RedisClientOptions) {
  return options.commandTimeoutMs === undefined ? {} : { commandOptions: { timeout: options.commandTimeoutMs } };
}

function createNodeClient(url: string, options: RedisClientOptions) {
  return createClient({ url, RESP: 2, ...nodeOptions(options, undefined), ...commandOptions(options) });
}

function createNodeSentinel(topology: Extract<RedisTopology, { kind: 'sentinel' }>, options: RedisClientOptions) {
  const node = nodeOptions(options, topology.password);
  return createSentinel({
    name: topology.name,
    sentinelRootNodes: topology.sentinels,
    RESP: 2,
    nodeClientOptions: node,
    sentinelClientOptions: {
      ...(topology.sentinelPassword === undefined ? {} : { password: topology.sentinelPassword }),
      socket: { connectTimeout: CONNECT_TIMEOUT_MS, reconnectStrategy },
    },
    passthroughClientErrorEvents: true,
    // A pinned client must see a failed command fail, not re-sent elsewhere (see `pinned`).
    ...(options.pinned ? { maxCommandRediscovers: 0 } : {}),
    scanInterval: 1000,
    ...commandOptions(options),
  });
}

function createNodeCluster(topology: Extract<RedisTopology, { kind: 'cluster' }>, options: RedisClientOptions) {
  return createCluster({
    rootNodes: topology.nodes.map((node) => ({ socket: node })),
    defaults: nodeOptions(options, topology.password),
    RESP: 2,
    // While a node's connection is down, ask the others for the slot map every second (node-redis
    // waits 5 s by default): a promoted replica is then written to within about a second of the
    // cluster agreeing, instead of every write failing against the dead master until then.
    topologyRefreshOnReconnectionAttemptStrategy: CLUSTER_TOPOLOGY_REFRESH_MS,
    ...commandOptions(options),
  });
}

/**
 * The commands whose first argument is not their (first) key. Cluster routes a command by its
 * first key; commands with no key (PING, INFO, WAIT, PUBLISH) go to any node unless a key is given.
 */
function routingKey(args: readonly string[]): string | undefined {
  const command = args[0]?.toUpperCase();
  switch (command) {
    case 'EVAL':
    case 'EVALSHA':
    case 'EVAL_RO':
    case 'EVALSHA_RO':
      return Number(args[2]) > 0 ? args[3] : undefined;
    case 'XREAD':
    case 'XREADGROUP': {
      const streams = args.findIndex((arg) => arg.toUpperCase() === 'STREAMS');
      return streams < 0 ? undefined : args[streams + 1];
    }
    case 'XINFO':
    case 'XGROUP':
    case 'OBJECT':
    case 'MEMORY':
      return args[2];
    case 'PING':
    case 'INFO':
    case 'WAIT':
    case 'PUBLISH':
    case 'CLIENT':
    case 'SCRIPT':
    case 'CLUSTER':
    case 'ROLE':
    case 'TIME':
    case 'DBSIZE':
      return undefined;
    default:
      return args[1];
  }
}

/**
 * One Redis connection of Switchboard, whatever the topology (node-redis's own client, Sentinel
 * or Cluster client underneath). It offers what the code needs: raw commands routed by key,
 * the typed helpers node-redis gives every kind, readiness and `ready`/`end`/`error` events.
 */
export class RedisClient extends EventEmitter {
  readonly topology: RedisTopology;
  readonly name: string | undefined;
  private readonly single: NodeClient | undefined;
  private readonly sentinel: NodeSentinel | undefined;
  private readonly cluster: NodeCluster | undefined;
  /** The held master connection of a pinned Sentinel client. */
  private lease: Awaited<ReturnType<NodeSentinel['acquire']>> | undefined;
  private readonly pinned: boolean;
  private closedByCaller = false;
  /** The typed helpers, from whichever node-redis object is underneath. */
  private readonly commands: NodeClient;

  readonly hGet: NodeClient['hGet'];
  readonly hGetAll: NodeClient['hGetAll'];
  readonly hSet: NodeClient['hSet'];
  readonly hExists: NodeClient['hExists'];
  readonly hIncrBy: NodeClient['hIncrBy'];
  readonly lLen: NodeClient['lLen'];
  readonly lRange: NodeClient['lRange'];
  readonly del: NodeClient['del'];
  readonly get: NodeClient['get'];
  readonly exists: NodeClient['exists'];
  readonly zRem: NodeClient['zRem'];
  readonly sMembers: NodeClient['sMembers'];
  readonly xLen: NodeClient['xLen'];
  readonly xRange: NodeClient['xRange'];
  readonly xRevRange: NodeClient['xRevRange'];
  readonly xAdd: NodeClient['xAdd'];
  readonly xRead: NodeClient['xRead'];
  readonly pSubscribe: NodeClient['pSubscribe'];
  readonly subscribe: NodeClient['subscribe'];

  constructor(options: RedisClientOptions) {
    super();
    const topology = options.topology ?? (options.url ? { kind: 'single' as const, url: options.url } : undefined);
    if (!topology) throw new TypeError('createRedisClient needs `topology` or `url`');
    this.topology = topology;
    this.name = options.name;
    this.pinned = options.pinned === true && topology.kind === 'sentinel';
    const forward = (emitter: EventEmitter, events: Record<string, string>) => {
      for (const [from, to] of Object.entries(events)) emitter.on(from, (...args: unknown[]) => this.emit(to, ...args));
    };
    let commands: unknown;
    if (topology.kind === 'single') {
      this.single = createNodeClient(topology.url, options);
      forward(this.single, { ready: 'ready', end: 'end', error: 'error' });
      commands = this.single;
    } else if (topology.kind === 'sentinel') {
      this.sentinel = createNodeSentinel(topology, options);
      forward(this.sentinel, { ready: 'ready', end: 'end' });
      this.sentinel.on('error', (error: unknown) => this.emit('error', error instanceof Error ? error : new Error(String(error))));
      commands = this.sentinel;
    } else {
      this.cluster = createNodeCluster(topology, options);
      forward(this.cluster, { connect: 'ready', disconnect: 'end', error: 'error' });
      this.cluster.on('node-error', (error: Error) => this.emit('error', error));
      commands = this.cluster;
    }
    this.commands = commands as NodeClient;
    const bind = <K extends keyof NodeClient>(name: K) => (this.commands[name] as (...args: unknown[]) => unknown).bind(this.commands) as NodeClient[K];
    this.hGet = bind('hGet');
    this.hGetAll = bind('hGetAll');
    this.hSet = bind('hSet');
    this.hExists = bind('hExists');
    this.hIncrBy = bind('hIncrBy');
    this.lLen = bind('lLen');
    this.lRange = bind('lRange');
    this.del = bind('del');
    this.get = bind('get');
    this.exists = bind('exists');
    this.zRem = bind('zRem');
    this.sMembers = bind('sMembers');
    this.xLen = bind('xLen');
    this.xRange = bind('xRange');
    this.xRevRange = bind('xRevRange');
    this.xAdd = bind('xAdd');
    this.xRead = bind('xRead');
    this.pSubscribe = bind('pSubscribe');
    this.subscribe = bind('subscribe');
  }

  get isReady(): boolean {
    if (this.pinned && !this.lease) return false;
    return (this.single ?? this.sentinel ?? this.cluster)?.isReady ?? false;
  }

  get isOpen(): boolean {
    return (this.single ?? this.sentinel ?? this.cluster)?.isOpen ?? false;
  }

  /** Connects (and for a pinned Sentinel client, takes its master connection); rejects when Redis does not answer. */
  async connect(): Promise<void> {
    if (this.single) await this.single.connect();
    else if (this.cluster) await this.cluster.connect();
    else if (this.sentinel) {
      await this.sentinel.connect();
      if (this.pinned) {
        this.lease = await this.sentinel.acquire();
        // `ready` fired before the lease existed; pinned readiness starts now.
        this.emit('ready');
      }
    }
  }

  /** Sends a raw command; on Cluster it goes to the node owning `key` (default: the command's first key). */
  sendCommand<T = unknown>(args: readonly string[], key?: string): Promise<T> {
    if (this.single) return this.single.sendCommand(args as string[]) as Promise<T>;
    if (this.lease) return this.lease.sendCommand(false, args as string[]) as Promise<T>;
    if (this.sentinel) return this.sentinel.sendCommand(false, args as string[]) as Promise<T>;
    return (this.cluster as NodeCluster).sendCommand(key ?? routingKey(args), false, args as string[]) as Promise<T>;
  }

  /**
   * Sends `args` and, right behind it on the same connection, `WAIT replicas timeoutMs`: the
   * replicas count of the write itself (WAIT counts the writes of the connection it runs on).
   * Resolves with the reply and the replicas that acknowledged it.
   */
  async sendThenWait<T = unknown>(args: readonly string[], replicas: number, timeoutMs: number, key?: string): Promise<[T, number]> {
    const routing = key ?? routingKey(args);
    // Both calls are made in the same tick, so they are queued on the same socket in this order.
    const reply = this.sendCommand<T>(args, routing);
    const acked = this.sendCommand<number>(['WAIT', String(replicas), String(timeoutMs)], routing);
    const [first, second] = await Promise.allSettled([reply, acked]);
    if (first.status === 'rejected') throw first.reason;
    if (second.status === 'rejected') throw second.reason;
    return [first.value, Number(second.value)];
  }

  /** PING; on Cluster, of the node owning `key` when given. */
  async ping(key?: string): Promise<string> {
    return this.sendCommand<string>(['PING'], key);
  }

  /** INFO of one node (on Cluster, the one owning `key`; on Sentinel, the master). */
  async info(section?: string, key?: string): Promise<string> {
    return this.sendCommand<string>(section ? ['INFO', section] : ['INFO'], key);
  }

  /** True once close() or destroy() was called. */
  get closed(): boolean {
    return this.closedByCaller;
  }

  async close(): Promise<void> {
    this.closedByCaller = true;
    if (!this.isOpen) return;
    // Not connected (Redis down, refused credentials): nothing to flush, and a graceful close
    // would wait for a connection that may never come.
    if (!this.isReady) {
      this.destroy();
      return;
    }
    if (this.lease) {
      this.lease.release();
      this.lease = undefined;
    }
    const connection = this.single ?? this.sentinel ?? this.cluster;
    if (!connection) return;
    // A Cluster client stays ready while one node is down, and its graceful close waits for that
    // node to come back: after GRACEFUL_CLOSE_MS the rest is dropped, as destroy() does.
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), GRACEFUL_CLOSE_MS);
    });
    const closed = connection.close().then(
      () => false,
      () => false,
    );
    if (await Promise.race([closed, timedOut])) void connection.destroy();
    clearTimeout(timer);
  }

  destroy(): void {
    this.closedByCaller = true;
    this.lease = undefined;
    if (!this.isOpen) return;
    void (this.single ?? this.sentinel ?? this.cluster)?.destroy();
  }
}

/** A Switchboard Redis connection for any topology (see `RedisClient`). Not connected yet. */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  return new RedisClient(options);
}

// Connecting and waiting for the first connection are the same for every client (src/core/connect.ts).
export { connectInBackground, untilFirstConnect } from '../core/connect.js';

/**
 * Closes a client: gracefully (its replies arrive first) when connected; at once when not, since
 * a client still reconnecting to an unreachable Redis would wait for it forever.
 */
export async function closeRedisClient(client: RedisClient): Promise<void> {
  if (!client.isReady) {
    client.destroy();
    return;
  }
  await client.close().catch(() => client.destroy());
}

/** True when the Redis server persists writes with an append-only file. */
export async function hasAppendOnlyPersistence(client: RedisClient, key?: string): Promise<boolean> {
  const info = await client.info('persistence', key);
  return /^aof_enabled:1\r?$/m.test(info);
}

/** `host:port` (IPv6 in brackets) → address. */
export function parseNodeAddress(text: string): RedisNodeAddress {
  const match = /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(text.trim());
  if (!match) throw new TypeError(`expected host:port, got "${text}"`);
  return { host: match[1] as string, port: Number(match[2]) };
}

/** A one-line description of the topology, for logs and the start banner (no passwords). */
export function describeTopology(topology: RedisTopology): string {
  const list = (nodes: RedisNodeAddress[]) => nodes.map((node) => `${node.host}:${node.port}`).join(',');
  if (topology.kind === 'single') return redactUrl(topology.url);
  if (topology.kind === 'sentinel') return `sentinel ${topology.name} via ${list(topology.sentinels)}`;
  return `cluster via ${list(topology.nodes)}`;
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString().replace(/\/$/, '');
  } catch {
    return url;
  }
}
