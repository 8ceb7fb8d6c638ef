/**
 * @switchboard/client: what an integrator needs from a Switchboard hub, without the server.
 * - consumeCdrs: one worker of an integrator's consumer group on the CDR stream;
 * - HubClient: the hub's HTTP API (send events, manage integrators and subscriptions);
 * - integratorKeys: the Redis key names, for readers written by hand.
 */
export { consumeCdrs, type Cdr, type ConsumeCdrsOptions } from './consume-cdrs.js';
export { HubClient, HubError, HubUnreachableError, type Accepted, type HubClientOptions, type HubErrorDetail, type SubmittedEvent } from './hub.js';
export { deadLetterGroup, type AnyRedisClient, type DeadLetterTarget } from './dead-letter.js';
export { integratorKeys, type IntegratorKeys } from './keys.js';
