import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KindGuard, type TObject, type TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import { ENV_KEYS, envName, loadConfig } from '../src/config/load.js';
import { withConfigReference } from '../src/config/reference.js';
import { ConfigSchema } from '../src/config/schema.js';
import { tempDir } from './helpers/redis.js';

/** The message loadConfig throws for this environment. */
function refusal(env: Record<string, string>, file?: string): string {
  try {
    loadConfig({ env, file });
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('loadConfig accepted the environment');
}

describe('docs/configuration.md', () => {
  it('holds the reference the schema gives (run `npm run docs:config` when this fails)', () => {
    const page = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    expect(withConfigReference(page)).toBe(page);
  });

  it('describes every key and every object of keys', () => {
    const undescribed: string[] = [];
    const walk = (schema: TObject, prefix: string) => {
      for (const [key, child] of Object.entries<TSchema>(schema.properties)) {
        const path = prefix === '' ? key : `${prefix}.${key}`;
        if (child.description === undefined) undescribed.push(path);
        if (KindGuard.IsObject(child)) walk(child, path);
      }
    };
    walk(ConfigSchema, '');
    expect(undescribed).toEqual([]);
  });
});

describe('environment variables derived from config keys', () => {
  it('derives the name from the key: capitals, words split at capitals, parts joined by _', () => {
    expect(envName('webhooks.leaseTtlMs')).toBe('SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS');
    expect(envName('redis.sentinel.sentinelPassword')).toBe('SWITCHBOARD_REDIS_SENTINEL_SENTINEL_PASSWORD');
    expect(envName('dataDir')).toBe('SWITCHBOARD_DATA_DIR');
    expect(ENV_KEYS.find((key) => key.path === 'cti.maxConcurrentChecksPerAddress')?.name).toBe('SWITCHBOARD_CTI_MAX_CONCURRENT_CHECKS_PER_ADDRESS');
  });

  it('keeps every published variable on its key, three of them as old names beside the derived ones', () => {
    const published = {
      SWITCHBOARD_REDIS_URL: 'redis.url',
      SWITCHBOARD_REDIS_SENTINELS: 'redis.sentinel.sentinels',
      SWITCHBOARD_REDIS_SENTINEL_NAME: 'redis.sentinel.name',
      SWITCHBOARD_REDIS_CLUSTER_NODES: 'redis.cluster.nodes',
      SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED: 'redis.minReplicasAcked',
      SWITCHBOARD_HTTP_HOST: 'http.host',
      SWITCHBOARD_HTTP_PORT: 'http.port',
      SWITCHBOARD_DATA_DIR: 'dataDir',
      SWITCHBOARD_API_TOKEN: 'auth.apiToken',
      SWITCHBOARD_LOG_LEVEL: 'logLevel',
      SWITCHBOARD_KEY_PREFIX: 'keyPrefix',
      SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'webhooks.allowPrivateTargets',
    };
    const byName = new Map(ENV_KEYS.flatMap((key) => [[key.name, key.path], ...(key.alias ? [[key.alias, key.path] as const] : [])]));
    expect(Object.fromEntries(Object.keys(published).map((name) => [name, byName.get(name)]))).toEqual(published);
    expect(ENV_KEYS.filter((key) => key.alias !== undefined).map((key) => [key.alias, key.name])).toEqual([
      ['SWITCHBOARD_REDIS_SENTINELS', 'SWITCHBOARD_REDIS_SENTINEL_SENTINELS'],
      ['SWITCHBOARD_API_TOKEN', 'SWITCHBOARD_AUTH_API_TOKEN'],
      ['SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS', 'SWITCHBOARD_WEBHOOKS_ALLOW_PRIVATE_TARGETS'],
    ]);
    // One key per name, and none taken by the variables that are not config keys.
    const names = [...byName.keys(), 'SWITCHBOARD_CONFIG', 'SWITCHBOARD_URL'];
    expect(new Set(names).size).toBe(ENV_KEYS.length + 3 + 2);
  });

  it('reads a nested integer, a boolean, a number, a word, a list and JSON, over the file', () => {
    const file = join(tempDir(), 'switchboard.yaml');
    writeFileSync(file, 'webhooks:\n  leaseTtlMs: 9000\n  slots: 8\n');
    const config = loadConfig({
      file,
      env: {
        SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS: '20000',
        SWITCHBOARD_REDIS_LAUNCH_LOCAL: 'false',
        SWITCHBOARD_INTEGRATORS_ALARM_RATIO: '0.5',
        SWITCHBOARD_PROFILES_ENIGMA_END_CODE: 'sip',
        SWITCHBOARD_WEBHOOKS_RETRY_SCHEDULE_MS: '1000, 2000,3000',
        SWITCHBOARD_LIVE_QUEUES: '{"sales":{"serviceLevelThresholdMs":30000}}',
        SWITCHBOARD_AUTH_TOKENS: '[{"name":"ops","token":"0123456789abcdef","roles":["admin","read"]}]',
        SWITCHBOARD_WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
        SWITCHBOARD_HTTP_HOST: '',
      },
    });
    expect(config.webhooks).toMatchObject({ leaseTtlMs: 20_000, slots: 8, allowPrivateTargets: true, retryScheduleMs: [1000, 2000, 3000] });
    expect(config.redis.launchLocal).toBe(false);
    expect(config.integrators.alarmRatio).toBe(0.5);
    expect(config.profiles.enigma.endCode).toBe('sip');
    expect(config.live.queues).toEqual({ sales: { serviceLevelThresholdMs: 30_000 } });
    expect(config.auth.tokens).toEqual([{ name: 'ops', token: '0123456789abcdef', roles: ['admin', 'read'] }]);
    // An empty variable is unset.
    expect(config.http.host).toBe('127.0.0.1');
  });

  it('lets a topology in the environment replace the file’s, and other redis keys leave it alone', () => {
    const file = join(tempDir(), 'switchboard.yaml');
    writeFileSync(file, 'redis:\n  url: redis://10.0.0.1:6379\n  commandTimeoutMs: 700\n');
    const cluster = loadConfig({ file, env: { SWITCHBOARD_REDIS_CLUSTER_NODES: '10.0.0.1:7000,10.0.0.2:7000' } });
    expect(cluster.redis.url).toBeUndefined();
    expect(cluster.redis).toMatchObject({ cluster: { nodes: ['10.0.0.1:7000', '10.0.0.2:7000'] }, commandTimeoutMs: 700 });
    const single = loadConfig({ file, env: { SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED: '1' } });
    expect(single.redis).toMatchObject({ url: 'redis://10.0.0.1:6379', minReplicasAcked: 1 });
  });

  it('refuses a bad value naming the variable, and what it expected', () => {
    expect(refusal({ SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS: '15s' })).toBe('SWITCHBOARD_WEBHOOKS_LEASE_TTL_MS: expected an integer, got "15s"');
    expect(refusal({ SWITCHBOARD_REDIS_LAUNCH_LOCAL: 'yes' })).toBe('SWITCHBOARD_REDIS_LAUNCH_LOCAL: expected true or false, got "yes"');
    expect(refusal({ SWITCHBOARD_LOG_LEVEL: 'verbose' })).toBe('SWITCHBOARD_LOG_LEVEL: expected one of: fatal, error, warn, info, debug, trace, silent, got "verbose"');
    expect(refusal({ SWITCHBOARD_WEBHOOKS_RETRY_SCHEDULE_MS: '5s,10s' })).toBe(
      'SWITCHBOARD_WEBHOOKS_RETRY_SCHEDULE_MS: expected a comma-separated list of integers or a JSON array, got "5s,10s"',
    );
    expect(refusal({ SWITCHBOARD_CTI_POOLS: '{sales: [1]}' })).toBe('SWITCHBOARD_CTI_POOLS: expected a JSON object, got "{sales: [1]}"');
  });

  it('refuses a value the schema refuses, naming the key and the variable that set it', () => {
    expect(refusal({ SWITCHBOARD_HTTP_PORT: '70000' })).toBe(
      'invalid configuration: http.port (from SWITCHBOARD_HTTP_PORT): Expected integer to be less or equal to 65535',
    );
    expect(refusal({ SWITCHBOARD_AUTH_TOKENS: '[{"name":"ops","token":"short","roles":["read"]}]' })).toBe(
      'invalid configuration: auth.tokens.0.token (from SWITCHBOARD_AUTH_TOKENS): at least 16 characters',
    );
    // A key the overrides set again is no longer the variable's.
    expect(() => loadConfig({ env: { SWITCHBOARD_HTTP_PORT: '8081' }, overrides: { http: { port: 70_000 } } })).toThrow(
      /^invalid configuration: http\.port: Expected integer to be less or equal to 65535$/,
    );
    expect(refusal({ SWITCHBOARD_API_TOKEN: '0123456789abcdef', SWITCHBOARD_AUTH_API_TOKEN: 'fedcba9876543210' })).toBe(
      'SWITCHBOARD_AUTH_API_TOKEN and SWITCHBOARD_API_TOKEN both set auth.apiToken: set one of them',
    );
  });
});
