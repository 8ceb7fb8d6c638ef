import type { AcceptedEvent } from '../events/catalogue.js';

/**
 * NetSapiens-style subscription models (docs/contracts/netsapiens-subscriptions.md) and the catalogue event types each one carries.
 * This table is the whole mapping: a type not listed here reaches no subscription (the
 * `subscription.*` operational events are deliberately absent, so a failing subscription cannot
 * feed itself). One event may serve several models (an agent status change is also presence).
 */
export const MODEL_EVENT_TYPES = {
  agent: ['agent.status_changed', 'call.offered', 'call.connected'],
  call: ['call.queued', 'call.offered', 'call.connected', 'call.ended', 'call.abandoned'],
  cdr: ['cdr.created'],
  presence: ['agent.status_changed'],
  campaign: ['campaign.status_changed', 'campaign.dial_preview'],
} as const satisfies Record<string, readonly string[]>;

export type Model = keyof typeof MODEL_EVENT_TYPES;
export const MODELS = Object.keys(MODEL_EVENT_TYPES) as Model[];

const MODELS_BY_TYPE = new Map<string, Model[]>();
for (const model of MODELS) {
  for (const type of MODEL_EVENT_TYPES[model]) MODELS_BY_TYPE.set(type, [...(MODELS_BY_TYPE.get(type) ?? []), model]);
}

export function isModel(value: string): value is Model {
  return Object.hasOwn(MODEL_EVENT_TYPES, value);
}

export function modelsForType(type: string): readonly Model[] {
  return MODELS_BY_TYPE.get(type) ?? [];
}

/** The tenant coordinates a subscription filters on: `scope`, with the agent standing in for the user. */
export function eventTenant(event: AcceptedEvent): { reseller: string | undefined; domain: string | undefined; user: string | undefined } {
  const agent = event.data.agent;
  return {
    reseller: event.scope?.reseller,
    domain: event.scope?.domain,
    user: event.scope?.user ?? (typeof agent === 'string' ? agent : undefined),
  };
}
