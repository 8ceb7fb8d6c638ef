import { KindGuard, type TObject, type TSchema } from '@sinclair/typebox';
import { ConfigError } from '../errors.js';
import { ENV_KEYS, expectedForm, isScalar } from './load.js';
import { ConfigSchema } from './schema.js';

/**
 * The reference of every config key in docs/configuration.md, written from the schema by
 * `npm run docs:config` (scripts/config-doc.mjs) between these two markers; test/config-doc.test.ts
 * fails when the page and the schema differ.
 */
export const REFERENCE_START = '<!-- config reference: written by `npm run docs:config` from src/config/schema.ts; do not edit by hand -->';
export const REFERENCE_END = '<!-- end of config reference -->';

/** `doc` with the text between the markers replaced by the reference of the current schema. */
export function withConfigReference(doc: string): string {
  const start = doc.indexOf(REFERENCE_START);
  const end = doc.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new ConfigError(`the page has no "${REFERENCE_START}" … "${REFERENCE_END}" markers, in that order`);
  return `${doc.slice(0, start + REFERENCE_START.length)}\n\n${configReference()}\n${doc.slice(end)}`;
}

/** One table per object of named keys (the top level first), each key with its variable, form, default and description. */
export function configReference(): string {
  return sections(ConfigSchema, '').join('\n');
}

function sections(schema: TObject, prefix: string): string[] {
  const leaves = Object.entries(schema.properties).filter(([, child]) => !KindGuard.IsObject(child));
  const nested = Object.entries(schema.properties).filter((entry): entry is [string, TObject] => KindGuard.IsObject(entry[1]));
  const own = [`### ${prefix === '' ? 'Top level' : `\`${prefix}\``}`, ''];
  if (schema.description !== undefined && prefix !== '') own.push(cell(schema.description), '');
  if (leaves.length > 0) {
    own.push('| key | environment variable | value | default | description |', '|---|---|---|---|---|');
    for (const [key, child] of leaves) own.push(row(prefix === '' ? key : `${prefix}.${key}`, child));
    own.push('');
  }
  return [...own, ...nested.flatMap(([key, child]) => sections(child, prefix === '' ? key : `${prefix}.${key}`))];
}

function row(path: string, schema: TSchema): string {
  const env = ENV_KEYS.find((key) => key.path === path);
  if (env === undefined) throw new ConfigError(`${path} has no environment variable`);
  const variable = `\`${env.name}\`${env.alias === undefined ? '' : ` (or \`${env.alias}\`)`}`;
  return `| \`${path}\` | ${variable} | ${form(schema)} | ${defaultOf(schema)} | ${cell(schema.description ?? '')} |`;
}

/** The value's form, with an integer's or a number's bounds. */
function form(schema: TSchema): string {
  if (KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema)) {
    const kind = KindGuard.IsInteger(schema) ? 'integer' : 'number';
    const low = schema.minimum ?? schema.exclusiveMinimum;
    const lowSign = schema.minimum === undefined ? '>' : '≥';
    if (low !== undefined && schema.maximum !== undefined) return `${kind}, ${lowSign === '≥' ? `${low}–${schema.maximum}` : `> ${low}, ≤ ${schema.maximum}`}`;
    if (low !== undefined) return `${kind} ${lowSign} ${low}`;
    if (schema.maximum !== undefined) return `${kind} ≤ ${schema.maximum}`;
    return kind;
  }
  if (KindGuard.IsArray(schema)) return isScalar(schema.items) ? `list (${form(schema.items)})` : 'JSON array';
  if (isScalar(schema)) return cell(expectedForm(schema).replace(/^an? /, ''));
  return 'JSON object';
}

function defaultOf(schema: TSchema): string {
  if (schema.default === undefined) return '—';
  return `\`${JSON.stringify(schema.default)}\``;
}

/** Table-safe text: one line, pipes escaped, and `<` outside code spans escaped so it is not read as HTML. */
function cell(text: string): string {
  const spans = text.replace(/\s+/g, ' ').replaceAll('|', '\\|').split('`');
  return spans.map((span, index) => (index % 2 === 0 ? span.replaceAll('<', '&lt;') : span)).join('`');
}
