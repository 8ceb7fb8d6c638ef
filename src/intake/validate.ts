import { BatchTooLargeError, ValidationError, type ErrorDetail } from '../errors.js';
import { checkEvent } from '../events/check.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import { newEventId } from '../events/id.js';

/**
 * Checks a whole intake body (one event or an array) and returns the accepted events with ids and
 * times filled in. Any problem rejects the whole batch; every problem is listed.
 */
export function validateBatch(body: unknown, maxBatchEvents: number, now = new Date()): AcceptedEvent[] {
  const items = Array.isArray(body) ? body : [body];
  if (items.length === 0) {
    throw new ValidationError('the batch is empty', { details: [{ index: 0, path: '', message: 'expected at least one event' }] });
  }
  if (items.length > maxBatchEvents) {
    throw new BatchTooLargeError(`a batch holds at most ${maxBatchEvents} events, got ${items.length}`);
  }

  const details: ErrorDetail[] = [];
  items.forEach((item, index) => details.push(...checkEvent(item, index)));
  if (details.length > 0) {
    const noun = details.length === 1 ? 'problem' : 'problems';
    throw new ValidationError(`the batch was rejected: ${details.length} ${noun}`, { details });
  }

  const time = now.toISOString();
  return items.map((item: AcceptedEvent) => ({ ...item, id: item.id ?? newEventId(), time: item.time ?? time }));
}
