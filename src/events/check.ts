import { FormatRegistry, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import type { ErrorDetail } from '../errors.js';
import { didYouMean, validationDetails } from '../validation.js';
import { EVENT_DATA_SCHEMAS, SubmittedEvent } from './catalogue.js';

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
 * The catalogue's one check, compiled once. Intake's batches (src/intake/validate.ts) and the
 * events the hub makes itself (src/log/hub-events.ts) both pass through it; who may submit which
 * type is intake's policy, not the check's. Returns every problem of the event at `index`.
 */
export function checkEvent(item: unknown, index: number): ErrorDetail[] {
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
