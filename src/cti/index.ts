import { Counter, Gauge, type Registry } from 'prom-client';
import type { ComponentFactory } from '../context.js';
import { closeRedisClient, untilFirstConnect } from '../redis/client.js';
import type { ReadinessReport } from '../server/health.js';
import { BasicAuthenticator } from './basic-auth.js';
import { CtiEventRenderer } from './events.js';
import { parsePools, type CtiPool } from './pools.js';
import { ctiRoutes, type CtiRouteEvents } from './routes.js';
import { CtiStore } from './store.js';
import { ThrottledWarnings } from '../warnings.js';

/** Pool status is read from Redis at most this often, however many scrapes and probes ask. */
const STATUS_MAX_AGE_MS = 1000;

/** The CTI call-data cache with DNIS pooling (docs/cti.md, docs/contracts/cti-cache.md). Off while `cti.pools` is empty. */
export const ctiComponent: ComponentFactory = async (context) => {
  const { config, logger } = context;
  const pools = parsePools(config.cti);
  if (pools.byName.size === 0) return { name: 'cti' };

  const auth = await BasicAuthenticator.create(config.cti.users, context.tokens.open, config.cti);
  const metrics = createCtiMetrics(context.metrics.registry, () => snapshot());
  // Its own connection: CTI replies do not queue behind event-log batches on the shared one.
  // No node-redis command timeout (it builds an AbortSignal per command): the store times calls.
  const redis = context.openRedis({ failFast: true, commandTimeoutMs: 0, name: 'switchboard-cti' });
  const events = new CtiEventRenderer(config.cti.recordEvents, config.eventLog.maxLength);
  const store = new CtiStore(redis, context.keys, events, config.redis.commandTimeoutMs);
  for (const pool of pools.byName.values()) metrics.numbers.set({ pool: pool.name }, pool.numbers.length);

  let cached: { at: number; statuses: Promise<Map<CtiPool, number>> } | undefined;
  /** Numbers in use, per pool. */
  function snapshot(): Promise<Map<CtiPool, number>> {
    if (!cached || Date.now() - cached.at > STATUS_MAX_AGE_MS) {
      const statuses = Promise.all([...pools.byName.values()].map(async (pool) => [pool, await store.inUse(pool)] as const)).then(
        (entries) => new Map(entries),
      );
      cached = { at: Date.now(), statuses };
      statuses.catch(() => (cached = undefined));
    }
    return cached.statuses;
  }

  const routeEvents: CtiRouteEvents = {
    allocated: (pool) => metrics.allocations.inc({ pool: pool.name }),
    exhausted: (pool) => metrics.exhaustions.inc({ pool: pool.name }),
    fetched: (pool, found, deleted) => {
      const labels = { pool: pool?.name ?? '', method: deleted ? 'DELETE' : 'GET' };
      (found ? metrics.hits : metrics.misses).inc(labels);
    },
  };

  return {
    name: 'cti',
    async start() {
      store.start();
      // The hub already waited for Redis; with it down, requests answer 503 until it is up.
      if (context.redis.isReady) await untilFirstConnect(redis, 2000);
      await store.sync(pools.byName.values()).catch((error: unknown) => {
        // Redis may come up later: the first allocation syncs the pool then.
        new ThrottledWarnings(logger).warn('cti: could not write the pools to Redis yet', error);
      });
    },
    routes: ctiRoutes({ pools, store, auth, maxValueBytes: config.cti.maxValueBytes, events: routeEvents }),
    readiness: async (): Promise<ReadinessReport> => {
      let statuses: Map<CtiPool, number>;
      try {
        statuses = await snapshot();
      } catch {
        // The redis check already fails readiness; CTI adds nothing to say.
        return { name: 'cti', ok: true };
      }
      const threshold = config.cti.utilisationWarningPercent;
      const busy: string[] = [];
      const detail: Record<string, { numbers: number; inUse: number }> = {};
      for (const [pool, inUse] of statuses) {
        detail[pool.name] = { numbers: pool.numbers.length, inUse };
        const percent = (100 * inUse) / pool.numbers.length;
        if (percent > threshold) busy.push(`"${pool.name}" ${Math.round(percent)}% (${inUse} of ${pool.numbers.length})`);
      }
      const warning = busy.length > 0 ? `cti pool numbers in use above ${threshold}%: ${busy.join(', ')}` : undefined;
      return { name: 'cti', ok: true, pools: detail, ...(warning ? { warning } : {}) };
    },
    close: async () => {
      store.close();
      await closeRedisClient(redis);
    },
  };
};

function createCtiMetrics(registry: Registry, snapshot: () => Promise<Map<CtiPool, number>>) {
  const registers = [registry];
  const byPool = ['pool'] as const;
  const byPoolAndMethod = ['pool', 'method'] as const;
  /** Scrapes must not fail when Redis is down: the gauges keep their last values. */
  const fromSnapshot = (read: (pool: CtiPool, inUse: number) => number) =>
    async function collect(this: Gauge<'pool'>) {
      try {
        for (const [pool, inUse] of await snapshot()) this.set({ pool: pool.name }, read(pool, inUse));
      } catch {
        // see above
      }
    };
  return {
    allocations: new Counter({ name: 'switchboard_cti_allocations_total', help: 'DNIS leases handed out', labelNames: byPool, registers }),
    exhaustions: new Counter({
      name: 'switchboard_cti_exhaustions_total',
      help: 'POSTs answered 503 because every number of the pool was in use for the caller',
      labelNames: byPool,
      registers,
    }),
    hits: new Counter({ name: 'switchboard_cti_hits_total', help: 'GETs and DELETEs that found their entry', labelNames: byPoolAndMethod, registers }),
    misses: new Counter({
      name: 'switchboard_cti_misses_total',
      help: 'GETs and DELETEs that found no entry (pool "" when the DNIS is in no pool)',
      labelNames: byPoolAndMethod,
      registers,
    }),
    numbers: new Gauge({ name: 'switchboard_cti_pool_numbers', help: 'Numbers configured in the pool', labelNames: byPool, registers }),
    inUse: new Gauge({
      name: 'switchboard_cti_pool_in_use',
      help: 'Numbers of the pool with at least one live lease',
      labelNames: byPool,
      registers,
      collect: fromSnapshot((_pool, inUse) => inUse),
    }),
    utilisation: new Gauge({
      name: 'switchboard_cti_pool_utilisation_ratio',
      help: 'Share of the pool\'s numbers with at least one live lease (0-1)',
      labelNames: byPool,
      registers,
      collect: fromSnapshot((pool, inUse) => inUse / pool.numbers.length),
    }),
  };
}
