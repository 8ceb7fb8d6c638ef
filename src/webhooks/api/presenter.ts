import type { Placement } from '../cluster/placement.js';
import type { SubscriptionDef, SubscriptionStore } from '../store.js';
import { redactUserinfo } from '../delivery/target-policy.js';

/** A subscription as the API shows it (NetSapiens v2 field names, plus Switchboard's own). */
export interface SubscriptionView {
  id: string;
  model: string;
  'post-url': string;
  reseller: string;
  domain: string;
  user: string;
  'subscription-geo-support': string;
  'subscription-creation-datetime': string;
  'subscription-expires-datetime': string;
  'preferred-server': string;
  'current-active-server': string;
  'next-server': string;
  status: string;
  'posts-count': number;
  'error-count': number;
  'failed-deliveries': number;
  'last-error'?: string;
  secret?: string;
}

/**
 * Reads what the API shows beside the definition: delivery state, the node delivering it now
 * (`current-active-server`), the node that takes it if that one goes (`next-server`), failures.
 */
export class SubscriptionPresenter {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly placement: () => Placement | Promise<Placement> | undefined,
  ) {}

  async present(def: SubscriptionDef, secret?: string): Promise<SubscriptionView> {
    const [state, owner, failed, placement] = await Promise.all([
      this.store.state(def),
      this.store.owner(def),
      this.store.failedCount(def),
      Promise.resolve(this.placement()).catch(() => undefined),
    ]);
    return {
      id: def.id,
      model: def.model,
      'post-url': redactUserinfo(def.postUrl),
      reseller: def.reseller,
      domain: def.domain,
      user: def.user,
      'subscription-geo-support': def.geoSupport,
      'subscription-creation-datetime': def.createdAt,
      'subscription-expires-datetime': def.expiresAt,
      'preferred-server': def.preferredServer ?? '',
      'current-active-server': owner ?? '',
      'next-server': placement?.nextServer(def.id, owner) ?? '',
      status: state?.status ?? 'pending',
      'posts-count': state?.posts ?? 0,
      'error-count': state?.errors ?? 0,
      'failed-deliveries': failed,
      ...(state?.lastError ? { 'last-error': state.lastError } : {}),
      ...(secret ? { secret } : {}),
    };
  }
}
