import { hostname } from 'node:os';
import type { ComponentFactory, HubComponent } from '../context.js';
import type { EventType } from '../events/catalogue.js';
import { LogReader, UnreadableEntries } from '../log/reader.js';
import { SubscriptionWorker, type WorkerDeps } from './delivery/delivery.js';
import { Dispatcher, type DispatcherHooks } from './delivery/dispatcher.js';
import { WebhookSender } from './delivery/http.js';
import { createWebhookMetrics } from './delivery/metrics.js';
import { NodeRegistry } from './cluster/node-registry.js';
import { Ownership } from './cluster/ownership.js';
import { PlacementReader } from './cluster/placement-reader.js';
import { subscriptionRoutes } from './api/routes.js';
import { SubscriptionStore, type SubscriptionDef } from './store.js';
import { TargetPolicy } from './delivery/target-policy.js';

/**
 * Event subscriptions: the NetSapiens-style API, and delivery of the event log to every
 * subscription placed on this node (docs/webhooks.md). With `webhooks.enabled: false` only the
 * API runs.
 */
export const webhooksComponent: ComponentFactory = async (context): Promise<HubComponent> => {
  const { config, keys, logger } = context;
  const settings = config.webhooks;
  const log = logger.child({ component: 'webhooks' });
  const nodeId = settings.nodeId ?? hostname();
  const store = new SubscriptionStore(context.redis, keys);
  const policy = new TargetPolicy(settings.allowPrivateTargets);
  const registry = new NodeRegistry(context.redis, keys, nodeId, settings.leaseTtlMs, settings.stableAfterMs);
  const reader = new PlacementReader({ store, registry, maxAgeMs: settings.pollIntervalMs });
  const routes = async (app: Parameters<typeof subscriptionRoutes>[0]) =>
    subscriptionRoutes(app, { store, policy, config: settings, redis: context.redis, keys, placement: () => delivering.ownership?.view?.placement ?? reader.read() });

  const delivering: { ownership?: Ownership } = {};
  if (!settings.enabled) return { name: 'webhooks', routes };

  const work = context.openRedis({ commandTimeoutMs: 5000, name: 'switchboard-webhooks' });

  const sender = new WebhookSender(settings, policy);
  // The closures below run only after start, when the dispatcher and ownership exist.
  const metrics = createWebhookMetrics(context.metrics.registry, {
    lag: () => dispatcher.lag(),
    owned: () => dispatcher.ownedCount,
    eligible: () => owner.standing().eligible,
  });

  const emit = (type: EventType, def: SubscriptionDef, data: Record<string, unknown>) => {
    const scope = {
      ...(def.reseller === '*' ? {} : { reseller: def.reseller }),
      ...(def.domain === '*' ? {} : { domain: def.domain }),
    };
    context.hubEvents
      .emit(type, { subscription_id: def.id, model: def.model, post_origin: new URL(def.postUrl).origin, ...data }, {
        source: `switchboard/${nodeId}`,
        ...(Object.keys(scope).length > 0 ? { scope } : {}),
      })
      .catch((error: unknown) => log.error({ err: error, subscription: def.id, type }, 'could not append a subscription event'));
  };

  const workerDeps: Omit<WorkerDeps, keyof DispatcherHooks> = {
    config: settings,
    redis: work,
    keys,
    store,
    logger: log,
    sender,
    metrics,
    unreadable: new UnreadableEntries('webhooks', context.metrics.logEntriesUnreadable, log),
    emit: (def, { type, ...data }) => {
      log.warn({ subscription: def.id, type, status: data.status, reason: data.reason }, 'subscription status event');
      emit(type, def, data);
    },
  };
  // The dispatcher's and the ownership's registry reads, over the webhooks' patient connection.
  const workStore = new SubscriptionStore(work, keys);
  const dispatcher: Dispatcher = new Dispatcher({
    logger: log,
    store: workStore,
    feed: context.feed,
    log: new LogReader(work, keys.eventLog),
    unreadable: workerDeps.unreadable,
    pollIntervalMs: settings.pollIntervalMs,
    worker: (def, token, hooks) => new SubscriptionWorker(def, token, { ...workerDeps, ...hooks }),
    leaseLost: (id) => owner.forget(id),
    changed: () => owner.nudge(),
  });
  // Heartbeats, lease renewals and the placement's reads (one per subscription) go over the
  // webhooks' own patient connection, never queued in front of request-path commands.
  const owner: Ownership = new Ownership({
    redis: work,
    keys,
    logger: log,
    nodeId,
    ttlMs: settings.leaseTtlMs,
    stableAfterMs: settings.stableAfterMs,
    registry: new NodeRegistry(work, keys, nodeId, settings.leaseTtlMs, settings.stableAfterMs),
    store: workStore,
    subscriptions: () => dispatcher.subscriptions(),
    events: {
      acquired: (def, token) => dispatcher.acquired(def.id, token),
      lost: (id) => dispatcher.lost(id),
      // The in-flight post is bounded by its own timeouts; the drain waits for them, no longer.
      drain: (id) => dispatcher.drain(id, settings.connectTimeoutMs + settings.responseTimeoutMs + 1000),
      ownerChanged: (def, change) => {
        metrics.ownerChanges.inc({ reason: change.reason });
        log.info({ subscription: def.id, ...change }, 'subscription owner changed');
        emit('subscription.owner_changed', def, { ...change });
      },
    },
  });
  delivering.ownership = owner;
  const unsubscribe = store.onChange((id) => dispatcher.refresh(id));
  return {
    name: 'webhooks',
    routes,
    start() {
      dispatcher.start();
      owner.start();
      log.info({ nodeId, stableAfterMs: settings.stableAfterMs, leaseTtlMs: settings.leaseTtlMs }, 'webhook delivery started');
    },
    readiness: () => {
      const standing = owner.standing();
      const seconds = Math.ceil(standing.eligibleInMs / 1000);
      const warning = standing.eligible
        ? undefined
        : standing.takesSubscriptions
          ? `webhooks: node ${nodeId} is not yet stable (in ${seconds} s); it delivers because no live node is`
          : `webhooks: node ${nodeId} is not yet eligible to take subscriptions (stable in ${seconds} s)`;
      return {
        name: 'webhooks',
        ok: true,
        nodeId,
        eligible: standing.eligible,
        eligibleInMs: standing.eligibleInMs,
        liveNodes: standing.liveNodes,
        subscriptions: dispatcher.ownedCount,
        ...(warning ? { warning } : {}),
      };
    },
    async close() {
      unsubscribe();
      // With Redis away nothing can be handed over (the leases run out on their own, as after a
      // crash): waiting on queued commands would only hold the shutdown for their timeouts.
      if (!work.isReady) work.destroy();
      // Planned: hand every subscription over (drained), then stop whatever is left.
      await owner.close();
      await dispatcher.stop();
      work.destroy();
      await dispatcher.ended();
      await sender.close();
    },
  };
};
