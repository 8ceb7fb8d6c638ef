import type { FastifyPluginAsync } from 'fastify';
import type { Logger } from 'pino';
import type { Config } from './config/schema.js';
import type { Appender } from './log/appender.js';
import type { LogFeed } from './log/feed.js';
import type { LogReader } from './log/reader.js';
import type { HubEvents } from './log/hub-events.js';
import type { Metrics } from './metrics.js';
import type { OutputProfile } from './profiles/output.js';
import type { RedisClient, RedisClientOptions, RedisTopology } from './redis/client.js';
import type { RedisFaults } from './redis/faults.js';
import type { Keys } from './redis/keys.js';
import type { TokenStore } from './server/auth.js';
import type { ReadinessCheck } from './server/health.js';

/** What the hub hands every component at start. */
export interface HubContext {
  config: Readonly<Config>;
  logger: Logger;
  keys: Keys;
  metrics: Metrics;
  /** Fail-fast client (short timeouts, no offline queue): request paths. */
  redis: RedisClient;
  /** Where Redis is (one node, Sentinel or Cluster). */
  redisTopology: RedisTopology;
  /**
   * A new connection of the hub's topology, connecting in the background (the one way components
   * connect; `untilFirstConnect` from src/redis/client.ts waits for it). The component closes it
   * when it is done with it; whatever is still open at shutdown (or after a failed start), the hub
   * closes, including connections opened after start.
   */
  openRedis: (options: Omit<RedisClientOptions, 'topology' | 'url'>) => RedisClient;
  /** Redis errors that retrying will not cure: report them here so /readyz names them. */
  faults: RedisFaults;
  tokens: TokenStore;
  appender: Appender;
  /**
   * The hub's one follower of the event log (one blocking read per process): every component that
   * reads the log as it grows subscribes here, from any position, instead of reading it itself.
   */
  feed: LogFeed;
  /**
   * The event log read by position (head, oldest, a range, one event by id) over the feed's
   * patient connection; its unreadable entries are counted under reader="live".
   */
  log: LogReader;
  /** The one door for events the hub makes itself: checked, stamped, appended (src/log/hub-events.ts). */
  hubEvents: HubEvents;
}

/**
 * A capability plugged into the hub (CTI cache, integrators, webhooks…; the hub's own intake,
 * health, retention and appender are built the same way, src/hub.ts). Its close is registered in
 * the hub's one lifecycle (src/lifecycle.ts) as soon as the factory returns.
 */
export interface HubComponent {
  name: string;
  /** Encapsulated Fastify routes. */
  routes?: FastifyPluginAsync;
  readiness?: ReadinessCheck;
  /**
   * Append-time output profiles this component contributes (written atomically with each log
   * entry); the hub adds them before it accepts any event.
   */
  profiles?: readonly OutputProfile[];
  /**
   * Starts the background work (loops, timers, connections to PBXs), after the hub bound its
   * HTTP port. A factory only builds; if a later step of the hub's start fails, `close()` is
   * called without `start()` having run.
   */
  start?(): Promise<void> | void;
  /** Stops events coming in (PBX sources); called before the hub drains its appender on shutdown. */
  stopInput?(): Promise<void>;
  /** Finishes the work already taken, within `budgetMs` (after every stopInput, before any close). */
  drain?(budgetMs: number): Promise<void>;
  /** Stops background work and releases connections; called once, on shutdown or after a failed start. */
  close?(): Promise<void> | void;
}

export type ComponentFactory = (context: HubContext) => Promise<HubComponent> | HubComponent;
