import type { AcceptedEvent } from '../events/catalogue.js';

/**
 * The event log's entry codec: the one place that knows an entry's layout. The hub and
 * @switchboard/client share this very file (the client gets a copy at build time,
 * packages/client/scripts/copy-shared.mjs), so it imports nothing but the event catalogue's types.
 *
 * An entry of the log stream, and of the integrators' streams, has three fields: `id` (the event
 * id), `type`, and `event` (the accepted event's JSON envelope, as webhooks and the schemas
 * describe it). Lua writes them in one place, src/redis/lua/includes/appendEntry.lua (a test holds
 * it to these names); every reader decodes them with `decode`.
 */
export const ENTRY_FIELDS = { id: 'id', type: 'type', event: 'event' } as const;

/** An entry's fields: the event id, its type and its JSON exactly as stored. */
export interface EntryFields {
  id: string;
  type: string;
  /** The event JSON exactly as stored (byte-for-byte what was accepted). */
  json: string;
}

/** One event of the log as a reader yields it (src/log/reader.ts decodes, and parses `event` on first use). */
export interface LogEntry extends EntryFields {
  /** Position in the log (the stream entry id): acceptance order, resumable. */
  readonly position: string;
  /** The accepted event; throws when the entry is unreadable (the reader counted and logged it). */
  readonly event: AcceptedEvent;
}

/**
 * Decodes an entry's field list as XRANGE, XREAD and XREADGROUP answer it (names and values in
 * turn); undefined when it is unreadable: a field missing or empty (not written by the hub).
 */
export function decode(flat: readonly string[] | null | undefined): EntryFields | undefined {
  if (!flat) return undefined;
  let id: string | undefined;
  let type: string | undefined;
  let json: string | undefined;
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const value = flat[i + 1] as string;
    switch (flat[i]) {
      case ENTRY_FIELDS.id:
        id = value;
        break;
      case ENTRY_FIELDS.type:
        type = value;
        break;
      case ENTRY_FIELDS.event:
        json = value;
        break;
    }
  }
  return id && type && json ? { id, type, json } : undefined;
}

/**
 * The stored event of an entry; undefined when its JSON is not an event of the entry's type (an
 * object with that `type` and a `data` object): unreadable.
 */
export function parseEvent(fields: EntryFields): AcceptedEvent | undefined {
  let event: Partial<AcceptedEvent> | null;
  try {
    event = JSON.parse(fields.json) as Partial<AcceptedEvent> | null;
  } catch {
    return undefined;
  }
  const readable = typeof event === 'object' && event !== null && event.type === fields.type && typeof event.data === 'object' && event.data !== null;
  return readable ? (event as AcceptedEvent) : undefined;
}

/** The stored JSON of an accepted event. */
export function encodeEvent(event: AcceptedEvent): string {
  return JSON.stringify(event);
}
