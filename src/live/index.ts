import { closeRedisClient } from '../redis/client.js';
import type { ComponentFactory, HubComponent } from '../context.js';
import { boardRoutes } from '../board/routes.js';
import { LogFeed, type FeedSubscription } from '../log/feed.js';
import { LogReader, positionBefore } from '../log/reader.js';
import { createStreamMetrics } from '../stream/metrics.js';
import { streamRoutes } from '../stream/routes.js';
import { LiveProjection } from './projection.js';
import { liveRoutes } from './routes.js';

/**
 * See it live: one follower of the event log per hub process (LogFeed) serving GET /v1/stream
 * and the live projection behind GET /v1/live/*, plus the /board wallboard that reads both.
 */
export const liveComponent: ComponentFactory = (context): HubComponent => {
  const { config, keys, logger } = context;
  const log = logger.child({ component: 'live' });
  // The feed blocks its own connection; catch-up ranges share a patient one.
  const blocking = context.openRedis({ name: 'switchboard-live-feed' });
  const work = context.openRedis({ commandTimeoutMs: 5000, name: 'switchboard-live' });
  const ranges = new LogReader(work, keys.eventLog);
  const feed = new LogFeed({ live: new LogReader(blocking, keys.eventLog), ranges, logger: log });
  const projection = new LiveProjection(config.live);
  /** The projection's place on the feed, from start() on. */
  let subscription: FeedSubscription | undefined;
  const metrics = createStreamMetrics(context.metrics.registry);

  return {
    name: 'live',
    routes: async (app) => {
      await app.register(streamRoutes, { feed, log: ranges, config: config.stream, metrics });
      await app.register(liveRoutes, { projection, caughtUp: () => subscription?.live === true });
      await app.register(boardRoutes);
    },
    readiness: () => ({
      name: 'live',
      ok: true,
      position: projection.position,
      streams: feed.consumerCount - 1,
      ...(subscription?.live ? {} : { warning: 'live: the live state is being rebuilt from the event log' }),
    }),
    start() {
      feed.start();
      // The projection replays the recent log, then follows it live.
      subscription = feed.subscribe(positionBefore(Date.now() - config.live.rebuildWindowMs), projection);
    },
    async close() {
      subscription?.close();
      const closing = feed.close();
      blocking.destroy();
      await closing;
      await closeRedisClient(work);
    },
  };
};
