import type { AcceptedEvent } from '../events/catalogue.js';

/**
 * NetSapiens-style subscription models (docs/contracts/netsapiens-subscriptions.md) and
 * the catalogue event types each one carries. This table is the whole mapping by type: a type not
 * listed here reaches no subscription (the `subscription.*` operational events are deliberately
 * absent, so a failing subscription cannot feed itself). One event may serve several models (an
 * agent status change is also presence). MODEL_EVENT_FILTERS narrows a few models per event.
 */
export const MODEL_EVENT_TYPES = {
  agent: ['agent.status_changed', 'call.offered', 'call.missed', 'call.connected'],
  auditlog: ['audit.logged'],
  auditlog_lite: ['audit.logged'],
  call: ['call.queued', 'call.offered', 'call.missed', 'call.connected', 'call.held', 'call.resumed', 'call.ended', 'call.abandoned'],
  // The originating leg's own changes: every agent rung (call.offered) or missed happens on the term side.
  call_origid: ['call.queued', 'call.connected', 'call.held', 'call.resumed', 'call.ended', 'call.abandoned'],
  cdr: ['cdr.created'],
  message: ['message.received', 'message.sent'],
  messagesession: ['messagesession.updated'],
  subscriber: ['subscriber.updated', 'agent.status_changed'],
  // The lighter subscriber: status changes only, not every field of the user.
  presence: ['agent.status_changed'],
  voicemail: ['voicemail.created'],
  campaign: ['campaign.status_changed', 'campaign.dial_preview'],
} as const satisfies Record<string, readonly string[]>;

export type Model = keyof typeof MODEL_EVENT_TYPES;
export const MODELS = Object.keys(MODEL_EVENT_TYPES) as Model[];

/** The objects auditlog_lite follows (the ones billing counts: docs/contracts/netsapiens-subscriptions.md). */
const LITE_AUDIT_OBJECTS: readonly string[] = ['domain', 'user', 'reseller', 'callqueue', 'agent', 'conference', 'phonenumber'];

/**
 * auditlog_lite: creates and deletes of LITE_AUDIT_OBJECTS only; a phonenumber only when it was not
 * changed in the admin UI (docs/contracts/netsapiens-subscriptions.md, `auditlog_lite`).
 */
function isLiteAudit(event: AcceptedEvent): boolean {
  const { action, object_type: objectType, origin } = event.data;
  if (action !== 'create' && action !== 'delete') return false;
  if (typeof objectType !== 'string' || !LITE_AUDIT_OBJECTS.includes(objectType)) return false;
  return objectType !== 'phonenumber' || origin !== 'ui';
}

/** Models that take only some events of their types. */
const MODEL_EVENT_FILTERS: Partial<Record<Model, (event: AcceptedEvent) => boolean>> = {
  auditlog_lite: isLiteAudit,
};

const MODELS_BY_TYPE = new Map<string, Model[]>();
for (const model of MODELS) {
  for (const type of MODEL_EVENT_TYPES[model]) MODELS_BY_TYPE.set(type, [...(MODELS_BY_TYPE.get(type) ?? []), model]);
}

export function isModel(value: string): value is Model {
  return Object.hasOwn(MODEL_EVENT_TYPES, value);
}

/** Every model that may carry events of this type (some take only part of them: see modelsForEvent). */
export function modelsForType(type: string): readonly Model[] {
  return MODELS_BY_TYPE.get(type) ?? [];
}

/** The models that carry this very event. */
export function modelsForEvent(event: AcceptedEvent): readonly Model[] {
  const models = modelsForType(event.type);
  if (!models.some((model) => MODEL_EVENT_FILTERS[model])) return models;
  return models.filter((model) => MODEL_EVENT_FILTERS[model]?.(event) ?? true);
}

/** The types that end a call: its last post in `call` and `call_origid`. */
const CALL_ENDINGS: readonly string[] = ['call.ended', 'call.abandoned'];
const MODELS_MARKING_REMOVAL: readonly Model[] = ['call', 'call_origid'];

/**
 * One model object of a post: the logged event with `model` and `seq` first. The last post of a
 * call in `call` and `call_origid` carries `"remove":"yes"` at the top level of the object, as
 * NetSapiens' flat call objects do (docs/contracts/netsapiens-subscriptions.md); a `call_origid`
 * object names its originating leg in `data.orig_call_id` (the caller's call, `data.call_id`).
 * `eventJson` is the event as the log stores it, spliced without re-serialising unless
 * `call_origid` adds to its data; `type` is the log entry's, when the caller has it.
 */
export function modelObject(model: Model, seq: string, eventJson: string, type?: string): string {
  const head = `{"model":${JSON.stringify(model)},"seq":"${seq}",`;
  if (!MODELS_MARKING_REMOVAL.includes(model)) return head + eventJson.slice(1);
  // `call` needs only the type, which the log's entry gives beside the JSON: no parse per post.
  const removal = (eventType: unknown) => (typeof eventType === 'string' && CALL_ENDINGS.includes(eventType) ? '"remove":"yes",' : '');
  if (model === 'call' && type !== undefined) return head + removal(type) + eventJson.slice(1);
  const event = JSON.parse(eventJson) as { type?: unknown; data?: Record<string, unknown> };
  const remove = removal(event.type);
  if (model !== 'call_origid' || typeof event.data?.call_id !== 'string') return head + remove + eventJson.slice(1);
  event.data = { orig_call_id: event.data.call_id, ...event.data };
  return head + remove + JSON.stringify(event).slice(1);
}
