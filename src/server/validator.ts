import type { TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { Value } from '@sinclair/typebox/value';
import type { FastifySchemaCompiler } from 'fastify';
import { ValidationError } from '../errors.js';
import { summarize, validationDetails } from '../validation.js';

/**
 * The one validator of route schemas (params, query strings, bodies): each TypeBox schema is
 * compiled once, and its problems are worded by src/validation.ts like every other 400. It keeps
 * what Fastify's default (Ajv) did to a request part before checking it: unknown properties of a
 * closed object (`additionalProperties: false`) are dropped, defaults are filled in, and strings
 * are converted to the declared type (a query string's `limit=5` is the number 5). Routes that
 * check their body themselves, to name per-item problems (intake, CTI, subscriptions), set their
 * own `validatorCompiler`.
 */
export const typeboxValidatorCompiler: FastifySchemaCompiler<TSchema> = ({ schema, httpPart }) => {
  const check = TypeCompiler.Compile(schema);
  return (data: unknown) => {
    const value = Value.Convert(schema, Value.Default(schema, dropUnknownOfClosedObjects(schema, Value.Clone(data))));
    if (check.Check(value)) return { value };
    const details = validationDetails(check.Errors(value));
    return { error: new ValidationError(`${httpPart ?? 'request'}: ${summarize(details)}`, { details }) };
  };
};

/**
 * A route's opt-out: its handler checks the body itself (with src/validation.ts), to list every
 * problem of every item, or to answer another status than 400 (a CTI value too large is a 413).
 */
export const checkedInHandler = { validatorCompiler: () => (value: unknown) => ({ value }) };

/** Ajv's `removeAdditional: true`, which Fastify turns on: only closed objects lose their unknown keys. */
function dropUnknownOfClosedObjects(schema: TSchema, value: unknown): unknown {
  if (Array.isArray(value)) {
    if (schema.type === 'array' && schema.items) for (const item of value) dropUnknownOfClosedObjects(schema.items as TSchema, item);
    return value;
  }
  if (schema.type !== 'object' || typeof value !== 'object' || value === null) return value;
  const properties = (schema.properties ?? {}) as Record<string, TSchema>;
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const property = Object.hasOwn(properties, key) ? properties[key] : undefined;
    if (property) dropUnknownOfClosedObjects(property, record[key]);
    else if (schema.additionalProperties === false) delete record[key];
  }
  return value;
}
