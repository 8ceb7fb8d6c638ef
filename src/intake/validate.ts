import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { v7 as uuidv7 } from 'uuid';
import { BatchTooLargeError, ValidationError, type ErrorDetail } from '../errors.js';
import { didYouMean, validationDetails } from '../validation.js';
import {
  EVENT_DATA_SCHEMAS,
  SubmittedEvent,
  type AcceptedEvent,
} from '../events/catalogue.js';

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => RFC3339.test(value) && !Number.isNaN(Date.parse(value)));
}

const envelopeCheck = TypeCompiler.Compile(SubmittedEvent);
const dataChecks = new Map<string, TypeCheck<TSchema>>(
  Object.entries(EVENT_DATA_SCHEMAS).map(([type, schema]) => [type, TypeCompiler.Compile(schema)]),
);

const KNOWN_TYPES = [...dataChecks.keys()];

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
  return items.map((item: AcceptedEvent) => ({ ...item, id: item.id ?? uuidv7(), time: item.time ?? time }));
}

/**
 * Checks one event the hub itself emits (a PBX source's mapped event) against the catalogue, as
 * intake does, and fills in its time. Unlike validateBatch it takes every catalogue type: intake's
 * policy on who may submit which type does not apply to the hub. Returns the problems, if any.
 */
export function checkHubEvent(item: AcceptedEvent): ErrorDetail[] {
  return checkEvent(item, 0);
}

function checkEvent(item: unknown, index: number): ErrorDetail[] {
  // Fast path: the compiled checks; the (slower) error enumeration only runs for invalid events.
  const type = (item as { type?: unknown } | null)?.type;
  const dataCheck = dataChecks.get(type as string);
  if (dataCheck && envelopeCheck.Check(item) && dataCheck.Check((item as { data: unknown }).data)) return [];

  const problems = validationDetails(envelopeCheck.Errors(item), { index });
  if (typeof type !== 'string') return problems;
  if (!dataCheck) {
    if (!problems.some((problem) => problem.path === '/type')) problems.push({ index, path: '/type', message: `unknown event type "${type}"${didYouMean(type, KNOWN_TYPES)}` });
    return problems;
  }
  const data = (item as { data?: unknown }).data;
  if (typeof data === 'object' && data !== null && !Array.isArray(data)) {
    const hint = `${type} has no such field; put your own fields under data.custom`;
    for (const problem of validationDetails(dataCheck.Errors(data), { index, prefix: '/data', unknownFieldHint: hint })) {
      if (!problems.some((known) => known.path === problem.path)) problems.push(problem);
    }
  }
  return problems;
}
