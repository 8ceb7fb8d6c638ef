import { Counter, Gauge, type Registry } from 'prom-client';

/** Webhook delivery metrics, registered in the hub's registry. The gauges are read at scrape time. */
export function createWebhookMetrics(registry: Registry, source: { lag(): Iterable<[string, number]>; owned(): number; eligible(): boolean }) {
  const registers = [registry];
  return {
    posts: new Counter({
      name: 'switchboard_webhook_posts_total',
      help: 'Webhook POST attempts, by outcome (ok = 2xx; error = anything else, network errors and timeouts included)',
      labelNames: ['outcome'] as const,
      registers,
    }),
    retries: new Counter({ name: 'switchboard_webhook_retries_total', help: 'Webhook batches scheduled for another attempt', registers }),
    failedBatches: new Counter({
      name: 'switchboard_webhook_failed_batches_total',
      help: 'Batches that exhausted the retry schedule and went to their subscription\'s failed deliveries',
      registers,
    }),
    eventsDelivered: new Counter({ name: 'switchboard_webhook_events_delivered_total', help: 'Events delivered with a 2xx answer', registers }),
    owned: new Gauge({
      name: 'switchboard_webhook_subscriptions_owned',
      help: 'Subscriptions this node delivers (it holds their lease)',
      registers,
      collect() {
        this.set(source.owned());
      },
    }),
    ownerChanges: new Counter({
      name: 'switchboard_webhook_owner_changes_total',
      help: 'Subscriptions this node took over from another node, by reason (failover, rebalance, preferred, shutdown)',
      labelNames: ['reason'] as const,
      registers,
    }),
    eligible: new Gauge({
      name: 'switchboard_webhook_node_eligible',
      help: '1 when this node has been live for webhooks.stableAfterMs and may take subscriptions',
      registers,
      collect() {
        this.set(source.eligible() ? 1 : 0);
      },
    }),
    lag: new Gauge({
      name: 'switchboard_webhook_lag_seconds',
      help: 'Per subscription: age of the oldest matched event not yet delivered (0 when caught up)',
      labelNames: ['subscription'] as const,
      registers,
      collect() {
        this.reset();
        for (const [subscription, seconds] of source.lag()) this.set({ subscription }, seconds);
      },
    }),
  };
}

export type WebhookMetrics = ReturnType<typeof createWebhookMetrics>;
