/**
 * @switchboard/client: what an integrator needs from a Switchboard hub, without the server.
 * - consumeCdrs: one worker of an integrator's consumer group on the CDR stream;
 * - HubClient: the hub's HTTP API (send events, manage integrators and subscriptions);
 * - integratorKeys: the Redis key names, for readers written by hand;
 * - the event catalogue: a type per event (`CatalogueEvent<'cdr.created'>`, `EventData<…>`) and
 *   the TypeBox schemas they are derived from, the ones the hub validates with.
 */
export { consumeCdrs, type Cdr, type ConsumeCdrsOptions } from './consume-cdrs.js';
export { HubClient, HubError, HubUnreachableError, type Accepted, type HubClientOptions, type HubErrorDetail } from './hub.js';
export type { CatalogueEvent, EventData, EventType, HubEmittedType, SubmittableType, SubmittedEvent } from './events.js';
export { EVENT_DATA_SCHEMAS, EVENT_TYPES, EventScope } from './catalogue.js';
export { deadLetterGroup, type AnyRedisClient, type DeadLetterTarget } from './dead-letter.js';
export { integratorKeys, type IntegratorKeys } from './keys.js';
