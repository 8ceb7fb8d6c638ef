import { ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { ErrorDetail } from './errors.js';

export interface DetailOptions {
  /** Prepended to every path (e.g. `/data` when checking an event's data on its own). */
  prefix?: string;
  /** The item's place in a batch. */
  index?: number;
  /** Appended to "is not a known field", e.g. where the caller's own fields belong. */
  unknownFieldHint?: string;
  /** Name the known field closest to an unknown one ("did you mean …"), as config keys do. */
  suggestKnownFields?: boolean;
}

/**
 * The one formatter of validation problems: TypeBox errors become `{index?, path, message}`
 * details in plain words, one per path (TypeBox reports a missing property twice: required, then
 * wrong type; the first is kept).
 */
export function validationDetails(errors: Iterable<ValueError>, options: DetailOptions = {}): ErrorDetail[] {
  const details: ErrorDetail[] = [];
  for (const error of errors) {
    const path = `${options.prefix ?? ''}${error.path}`;
    if (details.some((detail) => detail.path === path)) continue;
    details.push({ ...(options.index === undefined ? {} : { index: options.index }), path, message: describe(error, options) });
  }
  return details;
}

/** "path message; path message", for one-line error messages (CLI, config). */
export function summarize(details: readonly ErrorDetail[]): string {
  return details.map((detail) => `${detail.path || '(body)'} ${detail.message}`).join('; ');
}

function describe(error: ValueError, options: DetailOptions): string {
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties: {
      const known = options.suggestKnownFields ? Object.keys((error.schema as { properties?: object }).properties ?? {}) : [];
      const suggestion = didYouMean(error.path.slice(error.path.lastIndexOf('/') + 1), known);
      return `is not a known field${suggestion}${options.unknownFieldHint ? ` (${options.unknownFieldHint})` : ''}`;
    }
    case ValueErrorType.Object:
      return 'expected a JSON object';
    case ValueErrorType.String:
      return 'expected a string';
    case ValueErrorType.StringMaxLength:
      return `at most ${String(error.schema.maxLength)} characters`;
    case ValueErrorType.StringMinLength:
      return error.schema.minLength === 1 ? 'must not be empty' : `at least ${String(error.schema.minLength)} characters`;
    default: {
      // TypeBox says "Expected union value" for an enum; name the allowed values instead.
      const options = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf;
      if (options?.every((option) => typeof option.const === 'string')) return `must be one of: ${options.map((option) => option.const).join(', ')}`;
      return error.message;
    }
  }
}

/**
 * ` (did you mean "x"?)` naming the known name closest to `input`, when one is close enough to be
 * a typo (at most one edit in three characters, at least one), else "". Case is ignored.
 */
export function didYouMean(input: string, known: readonly string[]): string {
  const wanted = input.toLowerCase();
  const allowed = Math.max(1, Math.floor(wanted.length / 3));
  let best: string | undefined;
  let bestDistance = allowed + 1;
  for (const name of known) {
    const distance = editDistance(wanted, name.toLowerCase());
    if (distance > 0 && distance < bestDistance) {
      best = name;
      bestDistance = distance;
    }
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

/** Insertions, deletions, substitutions and swaps of neighbours that turn `a` into `b` (optimal string alignment). */
function editDistance(a: string, b: string): number {
  let before: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) distance = Math.min(distance, (before[j - 2] ?? 0) + 1);
      current.push(distance);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length] ?? 0;
}
