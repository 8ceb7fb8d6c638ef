import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { ComponentFactory, HubComponent } from '../context.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { OperationalEventType } from './delivery.js';
import { Dispatcher } from './dispatcher.js';
import { WebhookSender } from './http.js';
import { LeaseManager } from './leases.js';
import { createWebhookMetrics } from './metrics.js';
import { subscriptionRoutes } from './routes.js';
import { SubscriptionStore, type SubscriptionDef } from './store.js';
import { TargetPolicy } from './target-policy.js';

/**
 * Event subscriptions (issue 4): the NetSapiens-style API, and delivery of the event log to every
 * subscription this node holds the slot lease of. With `webhooks.enabled: false` only the API runs.
 */
export const webhooksComponent: ComponentFactory = async (context): Promise<HubComponent> => {
  const { config, keys, logger } = context;
  const settings = config.webhooks;
  const log = logger.child({ component: 'webhooks' });
  const nodeId = settings.nodeId ?? hostname();
  const store = new SubscriptionStore(context.redis, keys);
  const policy = new TargetPolicy(settings.allowPrivateTargets);
  const routes = async (app: Parameters<typeof subscriptionRoutes>[0]) =>
    subscriptionRoutes(app, { store, policy, config: settings, redis: context.redis, keys });

  if (!settings.enabled) return { name: 'webhooks', routes, close: async () => {} };

  const blocking = context.openRedis({ name: 'switchboard-webhooks-read' });
  const work = context.openRedis({ commandTimeoutMs: 5000, name: 'switchboard-webhooks' });

  const sender = new WebhookSender(settings, policy);
  // The closures below run only after start, when both the dispatcher and the leases exist.
  const metrics = createWebhookMetrics(context.metrics.registry, { lag: () => dispatcher.lag(), owned: () => dispatcher.ownedCount });

  const emit = (type: OperationalEventType, def: SubscriptionDef, data: Record<string, unknown>) => {
    const scope = {
      ...(def.reseller === '*' ? {} : { reseller: def.reseller }),
      ...(def.domain === '*' ? {} : { domain: def.domain }),
    };
    const event: AcceptedEvent = {
      id: randomUUID(),
      type,
      time: new Date().toISOString(),
      source: `switchboard/${nodeId}`,
      ...(Object.keys(scope).length > 0 ? { scope } : {}),
      data: { subscription_id: def.id, model: def.model, post_origin: new URL(def.postUrl).origin, ...data },
    };
    log.warn({ subscription: def.id, type, status: data.status, reason: data.reason }, 'subscription status event');
    context.appender.append([event]).catch((error: unknown) => log.error({ err: error, subscription: def.id, type }, 'could not append a subscription event'));
  };

  const dispatcher: Dispatcher = new Dispatcher({
    keys,
    logger: log,
    store,
    blocking,
    work,
    pollIntervalMs: settings.pollIntervalMs,
    workerDeps: { config: settings, redis: work, keys, store, logger: log, sender, metrics, emit },
    leaseLost: (slot) => leases.forget(slot),
  });
  const leases: LeaseManager = new LeaseManager({
    redis: context.redis,
    keys,
    logger: log,
    nodeId,
    slots: settings.slots,
    ttlMs: settings.leaseTtlMs,
    events: {
      acquired: (slot, token) => dispatcher.slotAcquired(slot, token),
      lost: (slot) => dispatcher.slotLost(slot),
    },
  });
  const unsubscribe = store.onChange((id) => void dispatcher.refresh(id));
  dispatcher.start();
  leases.start();
  log.info({ nodeId, slots: settings.slots }, 'webhook delivery started');

  return {
    name: 'webhooks',
    routes,
    readiness: () => ({
      name: 'webhooks',
      ok: true,
      slots: leases.heldSlots ?? 0,
      subscriptions: dispatcher.ownedCount,
      ...(leases.heldSlots === 0 ? { warning: 'webhooks: this node holds no subscription slot lease yet' } : {}),
    }),
    async close() {
      unsubscribe();
      await dispatcher.stop();
      await leases.close();
      // Nothing left to flush: every write the workers make is fenced and retried by a successor.
      blocking.destroy();
      work.destroy();
      await dispatcher.ended();
      await sender.close();
    },
  };
};
