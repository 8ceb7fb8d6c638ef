/** Embedding Switchboard: start a hub from a parsed config. Integrators want `switchboard/client`. */
export { Hub, type StartHubOptions } from './hub.js';
export { loadConfig, parseConfig, type LoadConfigOptions } from './config/load.js';
export type { Config } from './config/schema.js';
export type { AcceptedEvent, EventType } from './events/catalogue.js';
export { EVENT_DATA_SCHEMAS, EVENT_TYPES } from './events/catalogue.js';
export * from './errors.js';
