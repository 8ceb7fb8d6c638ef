import { readFileSync } from 'node:fs';
import { KindGuard, type TObject, type TSchema } from '@sinclair/typebox';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import ipaddr from 'ipaddr.js';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { validationDetails } from '../validation.js';
import { AsteriskSourceConfig, ConfigSchema, FreeswitchSourceConfig, type Config } from './schema.js';

/** A config key that one environment variable sets: a key whose value is not an object of named keys. */
export interface EnvKey {
  /** The key with dots, as in the documentation: `webhooks.leaseTtlMs`. */
  readonly path: string;
  /** The variable derived from the path: `SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS`. */
  readonly name: string;
  /** A name from before the rule, still read. */
  readonly alias?: string;
  readonly schema: TSchema;
}

/** `webhooks.leaseTtlMs` → `SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS`: each part in capitals, words split at capitals, parts joined with `_`. */
export function envName(path: string): string {
  const parts = path.split('.').map((part) => part.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase());
  return ['SWITCHBOARD', ...parts].join('_');
}

/** Variables published before names were derived from keys, whose names the rule does not give; both names work. */
const LEGACY_ENV_NAMES: Readonly<Record<string, string>> = {
  'redis.sentinel.sentinels': 'SWITCHBOARD_REDIS_SENTINELS',
  'auth.apiToken': 'SWITCHBOARD_API_TOKEN',
  'webhooks.allowPrivateTargets': 'SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS',
};

/** Every key an environment variable sets, in the schema's order: objects of named keys are walked into, everything else is one variable. */
export const ENV_KEYS: readonly EnvKey[] = envKeysOf(ConfigSchema, '');

function envKeysOf(schema: TObject, prefix: string): EnvKey[] {
  return Object.entries(schema.properties).flatMap(([key, child]) => {
    const path = prefix === '' ? key : `${prefix}.${key}`;
    if (KindGuard.IsObject(child)) return envKeysOf(child, path);
    const alias = LEGACY_ENV_NAMES[path];
    return [{ path, name: envName(path), ...(alias === undefined ? {} : { alias }), schema: child }];
  });
}

export interface LoadConfigOptions {
  /** Path from `--config`; falls back to SWITCHBOARD_CONFIG. */
  file?: string | undefined;
  env?: Readonly<Record<string, string | undefined>>;
  /** Applied last; used by tests and embedders. */
  overrides?: Record<string, unknown>;
}

export function loadConfig(options: LoadConfigOptions = {}): Readonly<Config> {
  const env = options.env ?? {};
  const file = options.file ?? env.SWITCHBOARD_CONFIG;
  const raw: Record<string, unknown> = file ? readConfigFile(file) : {};

  const fromEnv = readEnv(env);
  // A topology given in the environment replaces the file's (one deployment file, several environments).
  const envTopologies = new Set([...fromEnv.keys()].map((path) => path.split('.')).filter(([section]) => section === 'redis').map(([, key]) => key));
  if (REDIS_TOPOLOGIES.some((key) => envTopologies.has(key)) && isPlainObject(raw.redis)) {
    for (const key of REDIS_TOPOLOGIES) if (!envTopologies.has(key)) delete raw.redis[key];
  }
  for (const [path, { value }] of fromEnv) setPath(raw, path, value);
  if (options.overrides) mergeInto(raw, options.overrides);

  // A key the overrides set again no longer holds the variable's value.
  const overridden = (path: string) => setsPath(options.overrides, path);
  return deepFreeze(validateConfig(raw, new Map([...fromEnv].filter(([path]) => !overridden(path)))));
}

const REDIS_TOPOLOGIES = ['url', 'sentinel', 'cluster'] as const;

/** The keys set in the environment, each with its value and the variable that gave it. */
function readEnv(env: Readonly<Record<string, string | undefined>>): Map<string, { value: unknown; variable: string }> {
  const values = new Map<string, { value: unknown; variable: string }>();
  for (const key of ENV_KEYS) {
    const given = [key.name, key.alias].filter((name): name is string => name !== undefined && env[name] !== undefined && env[name] !== '');
    if (given.length > 1) throw new ConfigError(`${given.join(' and ')} both set ${key.path}: set one of them`);
    const variable = given[0];
    if (variable === undefined) continue;
    values.set(key.path, { value: parseEnvValue(variable, env[variable] as string, key.schema), variable });
  }
  return values;
}

/** Validates a raw object against the schema, filling defaults; the error names every bad key. */
export function parseConfig(raw: unknown): Config {
  return validateConfig(raw, new Map());
}

/** parseConfig, naming the environment variable beside a bad key that one set. */
function validateConfig(raw: unknown, fromEnv: ReadonlyMap<string, { variable: string }>): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw ?? {}));
  const details = validationDetails(
    [...Value.Errors(ConfigSchema, withDefaults)].flatMap((error) => explainSourceError(error)),
    { suggestKnownFields: true },
  );
  if (details.length > 0) {
    // Config keys are written with dots, as in the documentation: `spool.maxBytez: unknown key (did you mean "maxBytes"?)`.
    const problems = details.map((detail) => {
      const key = detail.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
      const origin = [...fromEnv].find(([path]) => key === path || key.startsWith(`${path}.`))?.[1].variable;
      return `${key}${origin === undefined ? '' : ` (from ${origin})`}: ${detail.message.replace(/^is not a known field/, 'unknown key')}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { details });
  }
  const config = withDefaults as Config;
  const topologies = REDIS_TOPOLOGIES.filter((key) => config.redis[key] !== undefined);
  if (topologies.length > 1) {
    throw new ConfigError(
      `redis: set exactly one of redis.url, redis.sentinel, redis.cluster (got ${topologies.map((key) => `redis.${key}`).join(' and ')})`,
      { details: topologies.map((key) => ({ path: `/redis/${key}`, message: 'only one Redis topology can be configured' })) },
    );
  }
  checkTrustedProxies(config.http.trustProxy);
  return config;
}

/** Names proxy-addr (Fastify's trustProxy) knows besides addresses and CIDR ranges. */
const PROXY_RANGE_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** `http.trustProxy`: an entry that is no address, range or name is a ConfigError naming it, before anything starts. */
function checkTrustedProxies(list: readonly string[]): void {
  list.forEach((entry, index) => {
    if (!PROXY_RANGE_NAMES.includes(entry) && !ipaddr.isValid(entry) && !ipaddr.isValidCIDR(entry)) {
      throw new ConfigError(`http.trustProxy[${index}]: "${entry}" is not an IP address, a CIDR range (10.0.0.0/8), or one of ${PROXY_RANGE_NAMES.join(', ')}`);
    }
  });
}

/** A source that matches no variant of the union: list the problems against the variant its `type` names. */
function explainSourceError(error: ValueError): ValueError[] {
  if (error.type !== ValueErrorType.Union || !/^\/sources\/\d+$/.test(error.path)) return [error];
  const variant = { freeswitch: FreeswitchSourceConfig, asterisk: AsteriskSourceConfig }[String((error.value as { type?: unknown })?.type)];
  if (!variant) {
    return [{ ...error, path: `${error.path}/type`, message: 'must be one of: freeswitch, asterisk' }];
  }
  return [...Value.Errors(variant, Value.Default(variant, Value.Clone(error.value)))].map((inner) => ({ ...inner, path: `${error.path}${inner.path}` }));
}

function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read config file ${file}`, { cause });
  }
  let parsed: unknown;
  try {
    // YAML is a superset of JSON, so one parser reads both.
    parsed = parseYaml(text);
  } catch (cause) {
    throw new ConfigError(`config file ${file} is not valid YAML or JSON: ${(cause as Error).message}`, { cause });
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${file} must contain an object`);
  }
  return parsed as Record<string, unknown>;
}

/**
 * A variable's text as the value of its key: scalars as written (integers in digits, booleans
 * `true`/`false`), lists of scalars comma-separated (or a JSON array), anything else JSON
 * (objects, records, lists of objects). A union takes the first of its forms the text reads as.
 */
function parseEnvValue(variable: string, text: string, schema: TSchema): unknown {
  const value = envValue(schema, text);
  if (value === NOT_THIS_FORM) throw new ConfigError(`${variable}: expected ${expectedForm(schema)}, got "${text}"`);
  return value;
}

const NOT_THIS_FORM = Symbol('not this form');

function envValue(schema: TSchema, text: string): unknown {
  if (KindGuard.IsString(schema)) return text;
  if (KindGuard.IsInteger(schema)) return /^-?\d+$/.test(text) ? Number(text) : NOT_THIS_FORM;
  if (KindGuard.IsNumber(schema)) return /^-?(\d+(\.\d*)?|\.\d+)(e[+-]?\d+)?$/i.test(text) ? Number(text) : NOT_THIS_FORM;
  if (KindGuard.IsBoolean(schema)) return text === 'true' ? true : text === 'false' ? false : NOT_THIS_FORM;
  if (KindGuard.IsLiteral(schema)) return String(schema.const) === text ? schema.const : NOT_THIS_FORM;
  if (KindGuard.IsUnion(schema)) {
    for (const member of schema.anyOf) {
      const value = envValue(member, text);
      if (value !== NOT_THIS_FORM && Value.Check(member, value)) return value;
    }
    return NOT_THIS_FORM;
  }
  if (KindGuard.IsArray(schema) && isScalar(schema.items) && !text.trimStart().startsWith('[')) {
    const items = text.split(',').map((item) => item.trim()).filter(Boolean).map((item) => envValue(schema.items, item));
    return items.length === 0 || items.includes(NOT_THIS_FORM) ? NOT_THIS_FORM : items;
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return NOT_THIS_FORM;
  }
}

/** A value written as plain text in a variable (not JSON). */
export function isScalar(schema: TSchema): boolean {
  if (KindGuard.IsUnion(schema)) return schema.anyOf.every(isScalar);
  return KindGuard.IsString(schema) || KindGuard.IsInteger(schema) || KindGuard.IsNumber(schema) || KindGuard.IsBoolean(schema) || KindGuard.IsLiteral(schema);
}

/** What a variable for this schema holds, in words: "an integer", "one of: info, debug", "a JSON object". */
export function expectedForm(schema: TSchema): string {
  if (KindGuard.IsString(schema)) return 'a string';
  if (KindGuard.IsInteger(schema)) return 'an integer';
  if (KindGuard.IsNumber(schema)) return 'a number';
  if (KindGuard.IsBoolean(schema)) return 'true or false';
  if (KindGuard.IsLiteral(schema)) return String(schema.const);
  if (KindGuard.IsUnion(schema)) {
    return schema.anyOf.every((member) => KindGuard.IsLiteral(member))
      ? `one of: ${schema.anyOf.map(expectedForm).join(', ')}`
      : schema.anyOf.map(expectedForm).join(' or ');
  }
  if (KindGuard.IsArray(schema)) {
    return isScalar(schema.items) ? `a comma-separated list of ${plural(expectedForm(schema.items))} or a JSON array` : 'a JSON array';
  }
  if (KindGuard.IsRecord(schema) || KindGuard.IsObject(schema)) return 'a JSON object';
  return 'JSON';
}

/** "an integer" → "integers", for lists. */
function plural(form: string): string {
  return form.replace(/^an? (\w+)/, '$1s');
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const parts = path.split('.');
  let node = target;
  for (const part of parts.slice(0, -1)) {
    const next = node[part];
    if (typeof next !== 'object' || next === null) node[part] = {};
    node = node[part] as Record<string, unknown>;
  }
  node[parts.at(-1) as string] = value;
}

/** Whether mergeInto(…, `source`) replaces the key at `path`: `source` has it, or replaces an object above it with something else. */
function setsPath(source: Record<string, unknown> | undefined, path: string): boolean {
  let node: unknown = source;
  for (const part of path.split('.')) {
    if (!isPlainObject(node) || !(part in node)) return false;
    node = node[part];
    if (!isPlainObject(node)) return true;
  }
  return true;
}

function mergeInto(target: Record<string, unknown>, source: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(source)) {
    const existing = target[key];
    if (isPlainObject(value) && isPlainObject(existing)) mergeInto(existing, value);
    else target[key] = value;
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}
