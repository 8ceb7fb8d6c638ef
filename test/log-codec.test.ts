import { describe, expect, it } from 'vitest';
import { decode, ENTRY_FIELDS, parseEvent } from '../src/log/codec.js';

/** The entry codec on its own (no Redis): what is readable, and what is not. */
describe('the event-log entry codec', () => {
  const json = '{"id":"ev-1","type":"agent.status_changed","time":"2026-11-21T10:00:00.000Z","data":{"agent":"1002","status":"available"}}';

  it('decodes the fields in any order, ignoring others', () => {
    expect(decode(['extra', 'x', ENTRY_FIELDS.event, json, ENTRY_FIELDS.type, 'agent.status_changed', ENTRY_FIELDS.id, 'ev-1'])).toEqual({
      id: 'ev-1',
      type: 'agent.status_changed',
      json,
    });
  });

  it('finds an entry unreadable when a field is missing or empty, or there are no fields', () => {
    expect(decode(['id', 'ev-1', 'type', 'agent.status_changed'])).toBeUndefined();
    expect(decode(['id', '', 'type', 'agent.status_changed', 'event', json])).toBeUndefined();
    expect(decode(['foreign', 'x'])).toBeUndefined();
    expect(decode(null)).toBeUndefined();
  });

  it('parses the event only when it is JSON of an event of the entry type', () => {
    expect(parseEvent({ id: 'ev-1', type: 'agent.status_changed', json })).toEqual(JSON.parse(json));
    expect(parseEvent({ id: 'ev-1', type: 'agent.status_changed', json: '{not json' })).toBeUndefined();
    expect(parseEvent({ id: 'ev-1', type: 'cdr.created', json })).toBeUndefined();
    expect(parseEvent({ id: 'ev-1', type: 'agent.status_changed', json: '{"type":"agent.status_changed","data":null}' })).toBeUndefined();
    expect(parseEvent({ id: 'ev-1', type: 'agent.status_changed', json: '[1]' })).toBeUndefined();
  });
});
