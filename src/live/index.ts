import type { ComponentFactory, HubComponent } from '../context.js';
import { boardRoutes } from '../board/routes.js';
import type { FeedSubscription } from '../log/feed.js';
import { positionBefore } from '../log/reader.js';
import { createStreamMetrics } from '../stream/metrics.js';
import { streamRoutes } from '../stream/routes.js';
import { SseClient } from '../stream/sse-client.js';
import { describeError } from '../core/describe-error.js';
import { AlertWatcher } from './alerts.js';
import { createLiveMetrics } from './metrics.js';
import { LiveProjection, type LiveEntityKind } from './projection.js';
import { liveRoutes } from './routes.js';

/** How often the live state checks whether the business day changed (the daily reset's eviction). */
const RESET_CHECK_MS = 5000;
/** How often the live state looks for alerts that began: a new one is on /v1/stream well within 1 s. */
const ALERT_CHECK_MS = 250;

/**
 * See it live: GET /v1/stream and the live projection behind GET /v1/live/*, both consumers of the
 * hub's log feed (context.feed), plus the /board wallboard that reads both.
 */
export const liveComponent: ComponentFactory = (context): HubComponent => {
  const { config, logger } = context;
  const log = logger.child({ component: 'live' });
  // The hub's feed, and its reader for the stream's own reads (the log's head, one event by id).
  const { feed } = context;
  const liveMetrics = createLiveMetrics(context.metrics.registry, () => projection);
  const bounds: Record<LiveEntityKind, string> = { agent: 'live.maxAgents', queue: 'live.maxQueues', call: 'live.maxCalls' };
  const warned = new Set<LiveEntityKind>();
  const projection = new LiveProjection(config.live, (kind) => {
    liveMetrics.dropped.inc({ kind });
    if (warned.has(kind)) return;
    warned.add(kind);
    log.warn({ kind, bound: bounds[kind] }, `${bounds[kind]} reached: the least recently active ${kind}s are dropped from the live state (switchboard_live_dropped_total counts them)`);
  });
  /** The projection's place on the feed, from start() on. */
  let subscription: FeedSubscription | undefined;
  let resetTimer: NodeJS.Timeout | undefined;
  let alertTimer: NodeJS.Timeout | undefined;
  const watcher = new AlertWatcher(projection);
  /**
   * New alerts go to the log as `live.alert` through the hub's door for the events it makes
   * (src/log/hub-events.ts), as the other operational events do: checked against the catalogue,
   * then appended. Only once the replay has caught up: the alerts found then are current ones.
   */
  const emitAlerts = () => {
    if (!subscription?.live) return;
    const events = context.hubEvents.makeAll(watcher.check(Date.now()), (alert, problems) =>
      log.warn({ id: alert.id, problems }, 'live: an alert refused by the catalogue; skipped'),
    );
    if (events.length === 0) return;
    context.hubEvents.append(events).catch((error: unknown) => log.warn({ reason: describeError(error), alerts: events.length }, 'live: could not append live.alert events'));
  };
  const metrics = createStreamMetrics(context.metrics.registry);
  const evictStale = () => {
    // The first check after the replay clears what it left of earlier days.
    if (!subscription?.live) return;
    projection.evictStale(Date.now()).then(
      (evicted) => evicted && log.info(evicted, 'live: daily reset evicted what had nothing today'),
      (error: unknown) => log.warn({ reason: describeError(error) }, 'live: daily reset failed'),
    );
  };

  return {
    name: 'live',
    routes: async (app) => {
      await app.register(streamRoutes, { feed, log: context.log, config: config.stream, metrics });
      await app.register(liveRoutes, { projection, caughtUp: () => subscription?.live === true });
      await app.register(boardRoutes, { tokenRequired: !context.tokens.open });
    },
    readiness: () => ({
      name: 'live',
      ok: true,
      position: projection.position,
      streams: feed.countConsumers((consumer) => consumer instanceof SseClient),
      ...(subscription?.live ? {} : { warning: 'live: the live state is being rebuilt from the event log' }),
    }),
    start() {
      // The projection replays the recent log, then follows it live.
      subscription = feed.subscribe(positionBefore(Date.now() - config.live.rebuildWindowMs), projection);
      resetTimer = setInterval(evictStale, RESET_CHECK_MS);
      resetTimer.unref();
      alertTimer = setInterval(emitAlerts, ALERT_CHECK_MS);
      alertTimer.unref();
    },
    async close() {
      clearInterval(resetTimer);
      clearInterval(alertTimer);
      subscription?.close();
    },
  };
};
