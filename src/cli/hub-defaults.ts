import { loadConfig } from '../config/load.js';
import { configuredTopology } from '../hub.js';
import type { RedisTopology } from '../redis/client.js';
import type { HubCliDefaults } from './hub-api.js';

/** Where the CLI finds the hub when no option says otherwise. */
export interface CliDefaults extends HubCliDefaults {
  redis: RedisTopology;
  keyPrefix: string;
  logLevel: string;
}

/** Hosts that mean "every interface" to the hub; the CLI reaches them on the loopback. */
const ANY_ADDRESS = new Set(['0.0.0.0', '::', '']);

/**
 * The hub that `switchboard start` would run in this environment: its config as the hub reads it
 * (loadConfig over SWITCHBOARD_CONFIG and the SWITCHBOARD_* variables, docs/configuration.md),
 * so `tail` and `simulate` reach the hub started beside them. SWITCHBOARD_URL, a client-only
 * setting, names a hub elsewhere.
 */
export function cliDefaults(env: Readonly<Record<string, string | undefined>>): CliDefaults {
  const config = loadConfig({ env });
  const host = ANY_ADDRESS.has(config.http.host) ? '127.0.0.1' : config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  return {
    url: env.SWITCHBOARD_URL || `${config.http.tls ? 'https' : 'http'}://${host}:${config.http.port}`,
    token: config.auth.apiToken,
    // With no topology configured, the hub uses (or launches) a Redis on 127.0.0.1:localPort.
    redis: configuredTopology(config.redis) ?? { kind: 'single', url: `redis://127.0.0.1:${config.redis.localPort}` },
    keyPrefix: config.keyPrefix,
    logLevel: config.logLevel,
  };
}
