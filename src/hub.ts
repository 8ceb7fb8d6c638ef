import type { Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { COMPONENTS } from './components.js';
import type { Config } from './config/schema.js';
import type { ComponentFactory, HubComponent, HubContext } from './context.js';
import { ConfigError, StartupError } from './errors.js';
import { Lifecycle } from './lifecycle.js';
import { intakeRoutes } from './intake/routes.js';
import { Appender, redisAppendTransport } from './log/appender.js';
import { HubEvents } from './log/hub-events.js';
import { EventLogWriter } from './log/event-log.js';
import { LogFeed } from './log/feed.js';
import { LogReader, UnreadableEntries } from './log/reader.js';
import { LogRetention } from './log/retention.js';
import { Spool } from './log/spool.js';
import { createMetrics, type Metrics } from './metrics.js';
import { EnigmaProfile } from './profiles/enigma.js';
import { NewfiesProfile } from './profiles/newfies.js';
import type { OutputProfile } from './profiles/output.js';
import {
  closeRedisClient,
  connectInBackground,
  createRedisClient,
  describeTopology,
  hasAppendOnlyPersistence,
  parseNodeAddress,
  type RedisClient,
  type RedisClientOptions,
  type RedisTopology,
  untilFirstConnect,
} from './redis/client.js';
import { RedisFaults } from './redis/faults.js';
import { createKeys, type Keys } from './redis/keys.js';
import { LocalRedisServer, isPortOpen } from './redis/local-server.js';
import { buildServer } from './server/app.js';
import { TokenStore } from './server/auth.js';
import { healthRoutes, READINESS_DEADLINE_MS, type ReadinessCheck } from './server/health.js';
import { loadServerCertificate, type ServerCertificate } from './server/tls.js';
import { DeadlineExceededError, withDeadline } from './core/deadline.js';
import { describeError } from './core/describe-error.js';

export interface StartHubOptions {
  logger?: Logger;
  /** Defaults to every component in src/components.ts. */
  components?: readonly ComponentFactory[];
}

/** A running hub: HTTP server, Redis connections, spool and components. `close()` drains and stops them. */
export class Hub {
  private constructor(
    readonly config: Readonly<Config>,
    readonly logger: Logger,
    readonly server: FastifyInstance,
    readonly context: HubContext,
    private readonly lifecycle: Lifecycle,
  ) {}

  private closing: Promise<void> | undefined;

  /**
   * Starts the parts in order: Redis clients, spool and appender, the log feed, the core and
   * plugged-in components (built, not yet running), the HTTP server bound to its port, then every
   * component's background work. Each step registers its undo in one lifecycle (src/lifecycle.ts),
   * as avvio does for Fastify: a failed step runs it (newest first, stop input → drain → close) and
   * rethrows, so a failed start leaves no client, timer, child process or open file behind; and
   * `close()` runs the same list.
   */
  static async start(config: Readonly<Config>, options: StartHubOptions = {}): Promise<Hub> {
    const logger = options.logger ?? createLogger(config);
    const lifecycle = new Lifecycle(logger);
    try {
      return await Hub.startParts(config, options, logger, lifecycle);
    } catch (error) {
      logger.debug({ undo: lifecycle.undoOrder }, 'start failed: undoing the steps that ran');
      // Events spooled by this start stay on disk for the next one; nothing waits for Redis here.
      await lifecycle.end(0);
      throw error;
    }
  }

  private static async startParts(config: Readonly<Config>, options: StartHubOptions, logger: Logger, lifecycle: Lifecycle): Promise<Hub> {
    const tokens = new TokenStore(config.auth);
    refuseOpenNonLoopbackBind(config, tokens);
    // Unreadable or mismatched certificate files fail the start before anything else is opened.
    const certificate = config.http.tls ? loadServerCertificate(config.http.tls) : undefined;

    const { topology, localRedis } = await resolveRedis(config, logger);
    if (localRedis) lifecycle.add({ name: 'local redis-server', close: () => localRedis.close() });
    const keys = createKeys(config);
    const metrics = createMetrics();
    const faults = new RedisFaults(topology.kind, logger, metrics.registry);

    const redis = createRedisClient({ topology, commandTimeoutMs: config.redis.commandTimeoutMs, failFast: true, name: 'switchboard' });
    lifecycle.add({ name: 'redis client switchboard', close: () => closeRedisClient(redis) });
    // Every connection opened through openRedis, at start or later (a component's start(), a
    // reconnect it makes): those their owner has not closed are closed after every component
    // (this step is registered before them).
    const opened = new Set<RedisClient>();
    lifecycle.add({
      name: 'redis connections',
      close: () => Promise.all([...opened].filter((client) => !client.closed).map((client) => closeRedisClient(client))),
    });
    /** The one way every part of the hub connects: same topology, connected in the background. */
    const openRedis = (options: Omit<RedisClientOptions, 'topology' | 'url'>): RedisClient => {
      for (const client of opened) if (client.closed) opened.delete(client);
      const client = createRedisClient({ ...options, topology });
      opened.add(client);
      // Connection trouble is logged once, by the main client below; fatal errors count wherever they happen.
      connectInBackground(client, (error) => faults.observe(error));
      return client;
    };
    const where = describeTopology(topology);
    redis.on('ready', () => metrics.redisUp.set(1));
    redis.on('end', () => metrics.redisUp.set(0));
    let lastRedisError = '';
    connectInBackground(redis, (error) => {
      metrics.redisUp.set(0);
      if (faults.observe(error)) return;
      // One line per distinct failure, not one per reconnect attempt.
      const reason = describeError(error);
      if (reason !== lastRedisError) logger.warn({ redis: where, reason }, `redis ${where} is not reachable: ${reason}`);
      lastRedisError = reason;
    });
    // The log writer's own connection: no per-command timeout (the appender keeps its own
    // deadline per batch), intake is not queued behind other components' commands, and on
    // Sentinel it stays on one master connection so WAIT counts the replicas of its writes.
    const logClient = openRedis({ failFast: true, pinned: true, name: 'switchboard-log' });
    // A Redis that refuses or times out the first connection does not hold the start: intake
    // spools until it answers, and the start-up checks run when it does.
    await Promise.all([untilFirstConnect(redis, 3000), untilFirstConnect(logClient, 3000)]);
    const startupChecks = async () => {
      await checkTopology(redis, topology, faults);
      await warnWithoutPersistence(redis, keys, logger);
    };
    if (redis.isReady) await startupChecks();
    else {
      logger.warn({ redis: where }, `redis ${where} is not reachable yet: accepted events go to the local spool until it is`);
      redis.once('ready', () => void startupChecks().catch(() => {}));
    }

    const profiles: OutputProfile[] = [];
    if (config.profiles.enigma.enabled) profiles.push(new EnigmaProfile(keys, config.profiles.enigma, topology.kind === 'cluster'));
    if (config.profiles.newfies.enabled) profiles.push(new NewfiesProfile(config.profiles.newfies));

    const spool = new Spool(config.dataDir, config.spool.maxBytes, config.spool.drainBatchEvents);
    lifecycle.add({ name: 'spool', close: () => spool.close() });
    const writer = new EventLogWriter(keys, profiles, config.eventLog);
    const appender = new Appender({
      transport: redisAppendTransport(logClient, writer),
      writer,
      spool,
      keys,
      metrics,
      logger,
      faults,
      minReplicasAcked: config.redis.minReplicasAcked,
      replicaAckTimeoutMs: config.redis.replicaAckTimeoutMs,
      writeTimeoutMs: config.redis.commandTimeoutMs,
      drainBatchEvents: config.spool.drainBatchEvents,
      drainRetryMs: config.spool.drainRetryMs,
    });
    const feed = hubFeed(openRedis, keys, metrics, logger);
    const context: HubContext = { config, logger, keys, metrics, redis, redisTopology: topology, openRedis, faults, tokens, appender, hubEvents: new HubEvents(appender), feed: feed.feed, log: feed.ranges };

    // The hub's own parts first (their routes before the others'), then the plugged-in ones.
    const components: HubComponent[] = [];
    const checks: ReadinessCheck[] = [];
    const factories: readonly ComponentFactory[] = [
      healthComponent(checks),
      appenderComponent,
      () => feed,
      retentionComponent,
      intakeComponent,
      ...(options.components ?? COMPONENTS),
    ];
    for (const factory of factories) {
      const component = lifecycle.add(await factory(context));
      components.push(component);
      profiles.push(...(component.profiles ?? []));
      if (component.readiness) checks.push(component.readiness);
    }

    const server = await buildServer({
      logger,
      http: config.http,
      certificate,
      tokens,
      plugins: components.flatMap((component) => (component.routes ? [{ plugin: component.routes }] : [])),
    });
    // Input stops here first on shutdown: no request is taken once the drain has begun.
    lifecycle.add({ name: 'http server', stopInput: () => server.close() });
    await listen(server, config.http);
    if (tokens.open) logger.warn('no API token configured: every route is open (allowed on loopback only)');

    // Background work starts once the port is ours: a busy port fails the start before any of it ran.
    for (const component of components) await component.start?.();

    return new Hub(config, logger, server, context, lifecycle);
  }

  /** Base URL of the HTTP server. */
  get url(): string {
    const address = this.server.server.address();
    if (address === null || typeof address === 'string') throw new Error('the server is not listening on TCP');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${this.config.http.tls ? 'https' : 'http'}://${host}:${address.port}`;
  }

  /**
   * Re-reads `http.tls`'s files (SIGHUP, src/cli/start.ts): new connections get the new
   * certificate, open ones keep theirs. Files that do not make a usable certificate throw a
   * ConfigError and the current one stays.
   */
  reloadCertificate(): ServerCertificate {
    const tls = this.config.http.tls;
    if (!tls) throw new ConfigError('http.tls is not set: the hub serves HTTP, there is no certificate to reload');
    const certificate = loadServerCertificate(tls);
    (this.server.server as unknown as HttpsServer).setSecureContext(certificate.options);
    return certificate;
  }

  /** Stops intake, drains queued appends (and the spool, within the shutdown timeout), closes everything. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.logger.info('shutting down');
      await this.lifecycle.end(this.config.shutdownTimeoutMs);
      this.logger.info({ spoolDepth: this.context.appender.spoolDepth }, 'stopped');
    })();
    return this.closing;
  }
}

/** GET /healthz, /readyz and /metrics, over every component's readiness check (filled in as they are built). */
function healthComponent(checks: readonly ReadinessCheck[]): ComponentFactory {
  return ({ redis, keys, faults, metrics }) => ({
    name: 'health',
    routes: (app) => healthRoutes(app, { checks, registry: metrics.registry }),
    readiness: () => faults.readiness() ?? redisReadiness(redis, keys),
  });
}

/** The log's one writer: drained on shutdown (within the budget); a failed start leaves what it spooled for the next one. */
const appenderComponent: ComponentFactory = ({ appender }) => ({
  name: 'appender',
  readiness: () => appender.spoolReadiness(),
  drain: (budgetMs) => appender.close(budgetMs),
});

const retentionComponent: ComponentFactory = ({ redis, keys, config, logger }) => {
  const retention = new LogRetention(redis, keys.eventLog, config.eventLog, logger);
  return { name: 'retention', start: () => retention.start(), close: () => retention.close() };
};

/** POST /v1/events and its batch form. */
const intakeComponent: ComponentFactory = ({ appender, config }) => ({
  name: 'intake',
  routes: (app) => intakeRoutes(app, { appender, http: config.http }),
});

/**
 * The hub's one follower of the event log (context.feed), on a blocking connection of its own;
 * catch-up ranges share a patient one. Started before the components that subscribe, closed
 * after them. Its unreadable entries are counted under reader="live", the label the metric had
 * when the feed was the live component's (docs/live.md); the other consumers count their own.
 */
function hubFeed(openRedis: HubContext['openRedis'], keys: Keys, metrics: Metrics, logger: Logger): HubComponent & { feed: LogFeed; ranges: LogReader } {
  const log = logger.child({ component: 'log-feed' });
  const blocking = openRedis({ name: 'switchboard-log-feed' });
  const work = openRedis({ commandTimeoutMs: 5000, name: 'switchboard-log-ranges' });
  const unreadable = new UnreadableEntries('live', metrics.logEntriesUnreadable, log);
  const ranges = new LogReader(work, keys.eventLog, unreadable);
  const feed = new LogFeed({ live: new LogReader(blocking, keys.eventLog, unreadable), ranges, logger: log });
  return {
    name: 'log feed',
    feed,
    ranges,
    start: () => feed.start(),
    async close() {
      const closing = feed.close();
      // The blocking read ends with its connection.
      blocking.destroy();
      await closing;
      await closeRedisClient(work);
    },
  };
}

export function createLogger(config: Pick<Config, 'logLevel'>): Logger {
  return pino({
    level: config.logLevel,
    redact: { paths: ['req.headers.authorization', '*.token', '*.password', '*.secret'], censor: '[redacted]' },
  });
}

function refuseOpenNonLoopbackBind(config: Readonly<Config>, tokens: TokenStore): void {
  const host = config.http.host;
  const loopback = host === 'localhost' || (isIP(host) === 4 ? host.startsWith('127.') : host === '::1');
  if (!loopback && tokens.open) {
    throw new ConfigError(
      `http.host: refusing to bind ${host} without credentials; set SWITCHBOARD_API_TOKEN or auth.tokens, or bind 127.0.0.1`,
    );
  }
}

/** The topology `redis.url`, `redis.sentinel` or `redis.cluster` names; undefined when none does (a local Redis). */
export function configuredTopology(redis: Readonly<Config['redis']>): RedisTopology | undefined {
  const { url, sentinel, cluster } = redis;
  if (url) return { kind: 'single', url };
  if (sentinel) {
    return {
      kind: 'sentinel',
      name: sentinel.name,
      sentinels: sentinel.sentinels.map(parseNodeAddress),
      ...(sentinel.password ? { password: sentinel.password } : {}),
      ...(sentinel.sentinelPassword ? { sentinelPassword: sentinel.sentinelPassword } : {}),
    };
  }
  if (cluster) return { kind: 'cluster', nodes: cluster.nodes.map(parseNodeAddress), ...(cluster.password ? { password: cluster.password } : {}) };
  return undefined;
}

/** The configured topology, or a local Redis (found on localPort, or launched there). */
async function resolveRedis(config: Readonly<Config>, logger: Logger): Promise<{ topology: RedisTopology; localRedis?: LocalRedisServer }> {
  const configured = configuredTopology(config.redis);
  if (configured) return { topology: configured };
  const { localPort, launchLocal } = config.redis;
  if (await isPortOpen(localPort)) return { topology: { kind: 'single', url: `redis://127.0.0.1:${localPort}` } };
  if (!launchLocal) {
    throw new ConfigError(`redis.url: nothing answers on 127.0.0.1:${localPort} and redis.launchLocal is false; set SWITCHBOARD_REDIS_URL`);
  }
  const dir = join(config.dataDir, 'redis');
  const localRedis = await LocalRedisServer.start({ port: localPort, dir, ownProcessGroup: true });
  logger.info({ url: localRedis.url, dir }, 'launched a local redis-server (append-only)');
  return { topology: { kind: 'single', url: localRedis.url }, localRedis };
}

/** A single-node URL to a cluster node, or to a replica, would fail every write: say so at start. */
async function checkTopology(client: RedisClient, topology: RedisTopology, faults: RedisFaults): Promise<void> {
  if (!client.isReady || topology.kind !== 'single') return;
  const [clusterInfo, replication] = await Promise.all([client.info('cluster'), client.info('replication')]).catch(() => ['', '']);
  if (/^cluster_enabled:1\r?$/m.test(clusterInfo)) {
    faults.report(
      'WRONG_TOPOLOGY',
      `${describeTopology(topology)} is a Redis Cluster node (cluster_enabled:1), configured as a single node`,
      'configure redis.cluster.nodes (SWITCHBOARD_REDIS_CLUSTER_NODES) instead of redis.url',
    );
  } else if (/^role:slave\r?$/m.test(replication)) {
    faults.report('READONLY', `${describeTopology(topology)} is a replica (role:slave)`, 'point redis.url at the master, or use redis.sentinel to follow failovers');
  }
}

/** Binds the HTTP port; the usual failures become one line saying which setting to change. */
async function listen(server: FastifyInstance, http: Config['http']): Promise<void> {
  try {
    await server.listen({ host: http.host, port: http.port });
  } catch (error) {
    const at = `${http.host}:${http.port}`;
    switch ((error as NodeJS.ErrnoException).code) {
      case 'EADDRINUSE':
        throw new StartupError(`cannot listen on ${at}: the port is in use by another process; stop it, or choose another port with SWITCHBOARD_HTTP_PORT (http.port)`, { cause: error });
      case 'EACCES':
        throw new StartupError(`cannot listen on ${at}: permission denied (ports below 1024 need privileges); choose another port with SWITCHBOARD_HTTP_PORT (http.port)`, { cause: error });
      case 'EADDRNOTAVAIL':
      case 'ENOTFOUND':
        throw new StartupError(`cannot listen on ${at}: ${http.host} is not an address of this machine; set SWITCHBOARD_HTTP_HOST (http.host)`, { cause: error });
      default:
        throw error;
    }
  }
}

async function warnWithoutPersistence(client: RedisClient, keys: Keys, logger: Logger): Promise<void> {
  if (!client.isReady) return;
  if (!(await hasAppendOnlyPersistence(client, keys.eventLog).catch(() => true))) {
    logger.warn('redis has no append-only persistence: a Redis restart loses accepted events; enable appendonly yes');
  }
}

/**
 * The PING's own deadline, inside /readyz's: a stalled Redis is then reported by this check,
 * named "redis" and saying so, rather than by the route's catch-all for a check gone silent.
 */
const REDIS_PING_DEADLINE_MS = READINESS_DEADLINE_MS - 200;

async function redisReadiness(client: RedisClient, keys: Keys) {
  if (!client.isReady) return { name: 'redis', ok: false, message: 'redis unreachable' };
  try {
    // On Cluster: the node holding the event log.
    await withDeadline(client.ping(keys.eventLog), REDIS_PING_DEADLINE_MS, 'Redis');
    return { name: 'redis', ok: true };
  } catch (error) {
    const message = error instanceof DeadlineExceededError ? `redis not answering (no answer within ${REDIS_PING_DEADLINE_MS} ms)` : `redis unreachable: ${describeError(error)}`;
    return { name: 'redis', ok: false, message };
  }
}
