import type { Server as HttpsServer } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import { COMPONENTS } from './components.js';
import type { Config } from './config/schema.js';
import type { ComponentFactory, HubComponent, HubContext } from './context.js';
import { ConfigError, StartupError } from './errors.js';
import { intakeRoutes } from './intake/routes.js';
import { Appender, redisAppendTransport } from './log/appender.js';
import { HubEvents } from './log/hub-events.js';
import { EventLogWriter } from './log/event-log.js';
import { LogRetention } from './log/retention.js';
import { Spool } from './log/spool.js';
import { createMetrics } from './metrics.js';
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
  private closing: Promise<void> | undefined;

  private constructor(
    readonly config: Readonly<Config>,
    readonly logger: Logger,
    readonly server: FastifyInstance,
    readonly context: HubContext,
    private readonly parts: {
      spool: Spool;
      retention: LogRetention;
      components: HubComponent[];
      logClient: RedisClient;
      localRedis: LocalRedisServer | undefined;
    },
  ) {}

  /**
   * Starts the parts in order: Redis clients, spool and appender, components (built, not yet
   * running), the HTTP server bound to its port, then every component's background work. Like
   * avvio for Fastify, a failed step undoes every step before it, newest first, and rethrows: a
   * failed start leaves no client, timer, child process or open file behind.
   */
  static async start(config: Readonly<Config>, options: StartHubOptions = {}): Promise<Hub> {
    const logger = options.logger ?? createLogger(config);
    const undo: { name: string; run: () => Promise<unknown> | unknown }[] = [];
    try {
      return await Hub.startParts(config, options, logger, (name, run) => undo.push({ name, run }));
    } catch (error) {
      for (const step of undo.reverse()) {
        try {
          await step.run();
        } catch (undoError) {
          logger.debug({ err: undoError, step: step.name }, 'rollback step failed');
        }
      }
      throw error;
    }
  }

  private static async startParts(
    config: Readonly<Config>,
    options: StartHubOptions,
    logger: Logger,
    onRollback: (name: string, run: () => Promise<unknown> | unknown) => void,
  ): Promise<Hub> {
    const tokens = new TokenStore(config.auth);
    refuseOpenNonLoopbackBind(config, tokens);
    // Unreadable or mismatched certificate files fail the start before anything else is opened.
    const certificate = config.http.tls ? loadServerCertificate(config.http.tls) : undefined;

    const { topology, localRedis } = await resolveRedis(config, logger);
    if (localRedis) onRollback('local redis-server', () => localRedis.close());
    const keys = createKeys(config);
    const metrics = createMetrics();
    const faults = new RedisFaults(topology.kind, logger, metrics.registry);
    /** The one way every part of the hub connects: same topology, connected in the background. */
    const openRedis = (options: Omit<RedisClientOptions, 'topology' | 'url'>): RedisClient => {
      const client = createRedisClient({ ...options, topology });
      // Components close their own clients; these only matter if the start fails before they could.
      onRollback(`redis client ${options.name ?? ''}`, () => closeRedisClient(client));
      // Connection trouble is logged once, by the main client below; fatal errors count wherever they happen.
      connectInBackground(client, (error) => faults.observe(error));
      return client;
    };

    const redis = createRedisClient({ topology, commandTimeoutMs: config.redis.commandTimeoutMs, failFast: true, name: 'switchboard' });
    onRollback('redis client switchboard', () => closeRedisClient(redis));
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
    onRollback('spool', () => spool.close());
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
    // Events spooled by this start stay on disk for the next one; nothing waits for Redis here.
    onRollback('appender', () => appender.close(0));
    const retention = new LogRetention(redis, keys.eventLog, config.eventLog, logger);
    onRollback('retention', () => retention.close());

    const context: HubContext = { config, logger, keys, metrics, redis, redisTopology: topology, openRedis, faults, tokens, appender, hubEvents: new HubEvents(appender) };
    const components: HubComponent[] = [];
    for (const factory of options.components ?? COMPONENTS) {
      const component = await factory(context);
      onRollback(`component ${component.name}`, () => component.close());
      components.push(component);
      profiles.push(...(component.profiles ?? []));
    }

    const checks: ReadinessCheck[] = [
      () => faults.readiness() ?? redisReadiness(redis, keys),
      () => appender.spoolReadiness(),
      ...components.flatMap((component) => (component.readiness ? [component.readiness] : [])),
    ];
    const server = await buildServer({
      logger,
      http: config.http,
      certificate,
      tokens,
      plugins: [
        { plugin: healthRoutes, options: { checks, registry: metrics.registry } },
        { plugin: intakeRoutes, options: { appender, http: config.http } },
        ...components.flatMap((component) => (component.routes ? [{ plugin: component.routes }] : [])),
      ],
    });
    onRollback('http server', () => server.close());
    await listen(server, config.http);
    if (tokens.open) logger.warn('no API token configured: every route is open (allowed on loopback only)');

    // Background work starts once the port is ours: a busy port fails the start before any of it ran.
    retention.start();
    for (const component of components) await component.start?.();

    return new Hub(config, logger, server, context, { spool, retention, components, logClient, localRedis });
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
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const { spool, retention, components, logClient, localRedis } = this.parts;
    this.logger.info('shutting down');
    await this.server.close();
    for (const component of components) await component.stopInput?.();
    await this.context.appender.close(this.config.shutdownTimeoutMs);
    for (const component of [...components].reverse()) {
      this.logger.debug({ component: component.name }, 'closing component');
      await component.close();
    }
    retention.close();
    for (const client of [logClient, this.context.redis]) await closeRedisClient(client);
    spool.close();
    await localRedis?.close();
    this.logger.info({ spoolDepth: spool.depth }, 'stopped');
  }
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
