import { readFileSync } from 'node:fs';
import { Value, ValueErrorType, type ValueError } from '@sinclair/typebox/value';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '../errors.js';
import { validationDetails } from '../validation.js';
import { AsteriskSourceConfig, ConfigSchema, FreeswitchSourceConfig, type Config } from './schema.js';

type EnvKind = 'string' | 'integer' | 'boolean' | 'list';

/** Environment variables that override the file, and the config key each one sets. */
export const ENV_OVERRIDES: Readonly<Record<string, { path: string; kind: EnvKind }>> = {
  SWITCHBOARD_REDIS_URL: { path: 'redis.url', kind: 'string' },
  SWITCHBOARD_REDIS_SENTINELS: { path: 'redis.sentinel.sentinels', kind: 'list' },
  SWITCHBOARD_REDIS_SENTINEL_NAME: { path: 'redis.sentinel.name', kind: 'string' },
  SWITCHBOARD_REDIS_CLUSTER_NODES: { path: 'redis.cluster.nodes', kind: 'list' },
  SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED: { path: 'redis.minReplicasAcked', kind: 'integer' },
  SWITCHBOARD_HTTP_HOST: { path: 'http.host', kind: 'string' },
  SWITCHBOARD_HTTP_PORT: { path: 'http.port', kind: 'integer' },
  SWITCHBOARD_HTTP_TLS_CERT_FILE: { path: 'http.tls.certFile', kind: 'string' },
  SWITCHBOARD_HTTP_TLS_KEY_FILE: { path: 'http.tls.keyFile', kind: 'string' },
  SWITCHBOARD_HTTP_TRUST_PROXY: { path: 'http.trustProxy', kind: 'list' },
  SWITCHBOARD_DATA_DIR: { path: 'dataDir', kind: 'string' },
  SWITCHBOARD_API_TOKEN: { path: 'auth.apiToken', kind: 'string' },
  SWITCHBOARD_LOG_LEVEL: { path: 'logLevel', kind: 'string' },
  SWITCHBOARD_KEY_PREFIX: { path: 'keyPrefix', kind: 'string' },
  SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS: { path: 'webhooks.allowPrivateTargets', kind: 'boolean' },
  SWITCHBOARD_WEBHOOK_CA_FILE: { path: 'webhooks.caFile', kind: 'string' },
};

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

  // A topology given in the environment replaces the file's (one deployment file, several environments).
  const envTopologies = REDIS_TOPOLOGY_ENV.filter(([name]) => env[name] !== undefined && env[name] !== '').map(([, key]) => key);
  if (envTopologies.length > 0 && isPlainObject(raw.redis)) {
    for (const key of ['url', 'sentinel', 'cluster']) if (!envTopologies.includes(key)) delete raw.redis[key];
  }
  for (const [name, { path, kind }] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') setPath(raw, path, parseEnvValue(name, value, kind));
  }
  if (options.overrides) mergeInto(raw, options.overrides);

  return deepFreeze(parseConfig(raw));
}

/** The environment variables that choose a Redis topology, and the `redis.*` key each sets. */
const REDIS_TOPOLOGY_ENV: readonly (readonly [string, string])[] = [
  ['SWITCHBOARD_REDIS_URL', 'url'],
  ['SWITCHBOARD_REDIS_SENTINELS', 'sentinel'],
  ['SWITCHBOARD_REDIS_SENTINEL_NAME', 'sentinel'],
  ['SWITCHBOARD_REDIS_CLUSTER_NODES', 'cluster'],
];

/** Validates a raw object against the schema, filling defaults; the error names every bad key. */
export function parseConfig(raw: unknown): Config {
  const withDefaults = Value.Default(ConfigSchema, Value.Clone(raw ?? {}));
  const details = validationDetails(
    [...Value.Errors(ConfigSchema, withDefaults)].flatMap((error) => explainSourceError(error)),
    { suggestKnownFields: true },
  );
  if (details.length > 0) {
    // Config keys are written with dots, as in the documentation: `spool.maxBytez: unknown key (did you mean "maxBytes"?)`.
    const problems = details.map((detail) => {
      const key = detail.path.replace(/^\//, '').replaceAll('/', '.') || '(root)';
      return `${key}: ${detail.message.replace(/^is not a known field/, 'unknown key')}`;
    });
    throw new ConfigError(`invalid configuration: ${problems.join('; ')}`, { details });
  }
  const config = withDefaults as Config;
  const topologies = (['url', 'sentinel', 'cluster'] as const).filter((key) => config.redis[key] !== undefined);
  if (topologies.length > 1) {
    throw new ConfigError(
      `redis: set exactly one of redis.url, redis.sentinel, redis.cluster (got ${topologies.map((key) => `redis.${key}`).join(' and ')})`,
      { details: topologies.map((key) => ({ path: `/redis/${key}`, message: 'only one Redis topology can be configured' })) },
    );
  }
  return config;
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

function parseEnvValue(name: string, value: string, kind: EnvKind): unknown {
  if (kind === 'integer') {
    if (!/^\d+$/.test(value)) throw new ConfigError(`${name}: expected an integer, got "${value}"`);
    return Number(value);
  }
  if (kind === 'list') {
    const items = value.split(',').map((item) => item.trim()).filter(Boolean);
    if (items.length === 0) throw new ConfigError(`${name}: expected a comma-separated list, got "${value}"`);
    return items;
  }
  if (kind === 'boolean') {
    if (value !== 'true' && value !== 'false') throw new ConfigError(`${name}: expected true or false, got "${value}"`);
    return value === 'true';
  }
  return value;
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
