import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import { describeError } from '../core/describe-error.js';
import type { ReadinessReport } from '../core/readiness.js';
import type { RedisTopology } from './client.js';

/** A Redis error that retrying will not cure: the operator must change something. */
export interface RedisFault {
  /** Stable code: the Redis error prefix (CROSSSLOT, NOPERM…) or WRONG_TOPOLOGY. */
  code: string;
  /** What Redis said. */
  message: string;
  /** What to fix. */
  hint: string;
  at: string;
}

type Topology = RedisTopology['kind'];

/** Redis error prefix → the hint, and on which topologies it is not a transient state. */
const FATAL_ERRORS: Readonly<Record<string, { hint: string; fatalOn: readonly Topology[] }>> = {
  CROSSSLOT: { hint: 'one script touched keys of several cluster slots: keyPrefix and profile key names must not contain braces ({…})', fatalOn: ['single', 'sentinel', 'cluster'] },
  MOVED: { hint: 'redis.url points at a Redis Cluster node: configure redis.cluster.nodes (SWITCHBOARD_REDIS_CLUSTER_NODES) instead', fatalOn: ['single', 'sentinel'] },
  ASK: { hint: 'redis.url points at a Redis Cluster node: configure redis.cluster.nodes (SWITCHBOARD_REDIS_CLUSTER_NODES) instead', fatalOn: ['single', 'sentinel'] },
  NOPERM: { hint: 'the Redis ACL user lacks a command, key or channel permission: grant Switchboard ~* &* +@all (or at least its keys, channels, EVALSHA and the stream commands)', fatalOn: ['single', 'sentinel', 'cluster'] },
  READONLY: { hint: 'redis.url points at a read-only replica: point it at the master, or use redis.sentinel to follow failovers', fatalOn: ['single'] },
  OOM: { hint: 'Redis reached maxmemory: raise maxmemory, or let integrators catch up (their backlog holds memory); keep maxmemory-policy noeviction', fatalOn: ['single', 'sentinel', 'cluster'] },
  WRONGPASS: { hint: 'the Redis password (or user) is wrong: fix the URL or redis.sentinel/cluster password', fatalOn: ['single', 'sentinel', 'cluster'] },
  NOAUTH: { hint: 'Redis requires a password: put it in the URL (redis://:password@host:port) or in redis.sentinel/cluster password', fatalOn: ['single', 'sentinel', 'cluster'] },
  WRONG_TOPOLOGY: { hint: 'the configured topology does not match the server', fatalOn: ['single', 'sentinel', 'cluster'] },
};

/** The error code of a fatal Redis error on this topology, or undefined for a transient one. */
export function fatalRedisErrorCode(error: unknown, topology: Topology): string | undefined {
  const message = error instanceof Error ? error.message : String(error);
  if (/cluster support disabled/i.test(message)) return 'WRONG_TOPOLOGY';
  const prefix = /^([A-Z_]+)\b/.exec(message)?.[1];
  if (prefix === undefined) return undefined;
  const known = FATAL_ERRORS[prefix];
  return known && known.fatalOn.includes(topology) ? prefix : undefined;
}

/**
 * Remembers the Redis errors that retrying will not cure, so the hub never spools forever in
 * silence: each is logged once as an error with a hint, counted in
 * `switchboard_redis_fatal_errors_total{code}`, and keeps /readyz at 503 naming it until a write
 * succeeds again.
 */
export class RedisFaults {
  private current: RedisFault | undefined;
  private readonly logged = new Set<string>();
  private readonly counter: Counter<'code'>;

  constructor(
    private readonly topology: Topology,
    private readonly logger: Logger,
    registry: Registry,
  ) {
    this.counter = new Counter({
      name: 'switchboard_redis_fatal_errors_total',
      help: 'Redis errors that retrying does not cure (CROSSSLOT, MOVED, NOPERM, READONLY, OOM, WRONGPASS, wrong topology), by code',
      labelNames: ['code'] as const,
      registers: [registry],
    });
  }

  /** Records `error` when it is fatal on this topology; returns whether it was. */
  observe(error: unknown, hint?: string): boolean {
    const code = fatalRedisErrorCode(error, this.topology);
    if (code === undefined) return false;
    this.report(code, describeError(error), hint);
    return true;
  }

  /** Records a fatal condition found by the hub itself (e.g. a wrong topology at start). */
  report(code: string, message: string, hint?: string): void {
    const fault: RedisFault = { code, message, hint: hint ?? FATAL_ERRORS[code]?.hint ?? 'see docs/deployment.md', at: new Date().toISOString() };
    this.current = fault;
    this.counter.inc({ code });
    if (!this.logged.has(code)) {
      this.logged.add(code);
      this.logger.error({ code, redisError: message, hint: fault.hint }, `redis: ${code} will not cure itself: ${fault.hint}`);
    }
  }

  /** A write went through: whatever was wrong is fixed. */
  clear(): void {
    if (!this.current) return;
    this.logger.info({ code: this.current.code }, 'redis: writes succeed again');
    this.current = undefined;
    this.logged.clear();
  }

  get fault(): RedisFault | undefined {
    return this.current;
  }

  /** The readiness part: 503 naming the fault while there is one. */
  readiness(): ReadinessReport | undefined {
    const fault = this.current;
    if (!fault) return undefined;
    return { name: 'redis', ok: false, code: fault.code, message: `redis ${fault.code}: ${fault.message} (${fault.hint})` };
  }
}
