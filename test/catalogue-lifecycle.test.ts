import { describe, expect, it } from 'vitest';
import { ValidationError } from '../src/errors.js';
import { EVENT_DATA_SCHEMAS } from '../src/events/catalogue.js';
import { validateBatch } from '../src/intake/validate.js';
import { modelsForType } from '../src/webhooks/models.js';

function problems(body: unknown): { path: string; message: string }[] {
  try {
    validateBatch(body, 100);
  } catch (error) {
    if (error instanceof ValidationError) return (error.details ?? []).map(({ path, message }) => ({ path, message }));
    throw error;
  }
  return [];
}

describe('queued-call lifecycle and source events in the catalogue', () => {
  it('accepts a full queued-call lifecycle', () => {
    const events = validateBatch([
      { type: 'call.queued', data: { call_id: 'c1', queue: 'support@default', position: 1, waiting: 3, queued_at: '2026-11-21T10:00:00Z' } },
      { type: 'call.ended', data: { call_id: 'c1', agent: '1002', talk_s: 42, ended_by: 'caller', cause: 'NORMAL_CLEARING' } },
      { type: 'call.abandoned', data: { call_id: 'c2', queue: 'support@default', reason: 'timeout', reason_raw: 'TIMEOUT', wait_s: 30 } },
      { type: 'source.resynced', data: { source: 'fs1', kind: 'freeswitch', reason: 'restarted', agents: 4, corrected: 1 } },
      { type: 'source.gap', data: { source: 'fs1', kind: 'freeswitch', reason: 'sequence_gap', missed: 7, last_seq: 10, next_seq: 18 } },
    ], 100);
    expect(events.map((event) => event.type)).toEqual(['call.queued', 'call.ended', 'call.abandoned', 'source.resynced', 'source.gap']);
  });

  it('lists every problem: required fields, enums, unknown fields', () => {
    expect(problems([
      { type: 'call.queued', data: { call_id: 'c1' } },
      { type: 'call.abandoned', data: { call_id: 'c2', reason: 'bored' } },
      { type: 'call.ended', data: { call_id: 'c3', colour: 'red' } },
      { type: 'source.gap', data: { source: 'fs1', kind: 'kamailio', reason: 'sequence_gap' } },
    ])).toEqual([
      { path: '/data/queue', message: 'is required' },
      { path: '/data/reason', message: 'must be one of: caller_hungup, timeout, no_agent, exit_key, break_out, other' },
      { path: '/data/colour', message: 'is not a known field (call.ended has no such field; put your own fields under data.custom)' },
      { path: '/data/kind', message: 'must be one of: freeswitch, asterisk' },
    ]);
  });

  it('serves schemas for them and carries the call lifecycle in the webhook call model', () => {
    for (const type of ['call.queued', 'call.ended', 'call.abandoned', 'source.resynced', 'source.gap']) {
      expect(EVENT_DATA_SCHEMAS).toHaveProperty([type]);
    }
    expect(EVENT_DATA_SCHEMAS['call.queued'].required).toEqual(['call_id', 'queue']);
    for (const type of ['call.queued', 'call.ended', 'call.abandoned']) expect(modelsForType(type)).toContain('call');
    expect(modelsForType('source.gap')).toEqual([]);
  });
});
