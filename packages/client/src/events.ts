import type { Static } from '@sinclair/typebox';
import type { EVENT_DATA_SCHEMAS, EventScope, HUB_EMITTED_NOUNS } from './catalogue.js';

/** Every type of the hub's event catalogue (docs/events.md). */
export type EventType = keyof typeof EVENT_DATA_SCHEMAS;

/** The `data` of an event of type `T`: the TypeBox `Static` of the schema the hub validates it with. */
export type EventData<T extends EventType> = Static<(typeof EVENT_DATA_SCHEMAS)[T]>;

/** Types only the hub emits (CTI cache records, subscription and source state…): intake refuses them. */
export type HubEmittedType = Extract<EventType, `${(typeof HUB_EMITTED_NOUNS)[number]}.${string}`>;

/** Types a source may send to the intake (`POST /v1/events`). */
export type SubmittableType = Exclude<EventType, HubEmittedType>;

/**
 * An accepted event of one of the types `T`, as the event log, the integrators' stream, webhooks
 * and `/v1/stream` carry it: `type` tells which, and narrows `data`.
 */
export type CatalogueEvent<T extends EventType = EventType> = {
  [K in T]: { id: string; type: K; time: string; source?: string; scope?: EventScope; data: EventData<K> };
}[T];

/** One event as a source submits it; only `type` and `data` are required, and `data` is checked against its type. */
export type SubmittedEvent<T extends SubmittableType = SubmittableType> = {
  [K in T]: { id?: string; type: K; time?: string; source?: string; scope?: EventScope; data: EventData<K> };
}[T];
