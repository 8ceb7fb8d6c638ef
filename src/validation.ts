import { ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import type { FastifySchemaValidationError } from 'fastify';
import type { ErrorDetail } from './errors.js';

export interface DetailOptions {
  /** Prepended to every path (e.g. `/data` when checking an event's data on its own). */
  prefix?: string;
  /** The item's place in a batch. */
  index?: number;
  /** Appended to "is not a known field", e.g. where the caller's own fields belong. */
  unknownFieldHint?: string;
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

/** Fastify's own (Ajv) validation of params and query strings, in the same words. */
export function fastifyValidationDetails(errors: readonly FastifySchemaValidationError[]): ErrorDetail[] {
  return errors.map((issue) => {
    const unknown = issue.keyword === 'additionalProperties' ? (issue.params as { additionalProperty?: string }).additionalProperty : undefined;
    return unknown === undefined
      ? { path: issue.instancePath, message: issue.message ?? 'invalid' }
      : { path: `${issue.instancePath}/${unknown}`, message: 'is not a known field' };
  });
}

/** "path message; path message", for one-line error messages (CLI, config). */
export function summarize(details: readonly ErrorDetail[]): string {
  return details.map((detail) => `${detail.path || '(body)'} ${detail.message}`).join('; ');
}

function describe(error: ValueError, options: DetailOptions): string {
  switch (error.type) {
    case ValueErrorType.ObjectRequiredProperty:
      return 'is required';
    case ValueErrorType.ObjectAdditionalProperties:
      return `is not a known field${options.unknownFieldHint ? ` (${options.unknownFieldHint})` : ''}`;
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
