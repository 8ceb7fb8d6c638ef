import type { Command } from 'commander';
import { ConfigError } from '../errors.js';
import { parseNodeAddress, type RedisTopology } from '../redis/client.js';

/** What the Redis connection options of a CLI command hold after parsing. */
export interface RedisCliOptions {
  redis?: string;
  sentinels?: string;
  sentinelName?: string;
  clusterNodes?: string;
  redisPassword?: string;
}

/**
 * Adds the options that say where Redis is, the same three topologies as the hub's `redis.*`
 * config. Without them, the hub's own Redis (see cliDefaults in ./hub-defaults.ts).
 */
export function addRedisOptions(command: Command): Command {
  return command
    .option('--redis <url>', "one Redis node (default: the hub's, from SWITCHBOARD_REDIS_URL or SWITCHBOARD_CONFIG)")
    .option('--sentinels <host:port,…>', 'Sentinels of a master (default: SWITCHBOARD_REDIS_SENTINELS)')
    .option('--sentinel-name <name>', 'the master name the Sentinels monitor (default: SWITCHBOARD_REDIS_SENTINEL_NAME)')
    .option('--cluster-nodes <host:port,…>', 'some nodes of a Redis Cluster (default: SWITCHBOARD_REDIS_CLUSTER_NODES)')
    .option('--redis-password <password>', 'password of the Sentinel-watched or cluster nodes');
}

/** The topology the options name; `hubs` (the hub's own Redis) when they name none. */
export function topologyFromOptions(options: RedisCliOptions, hubs: RedisTopology): RedisTopology {
  const given = [options.redis, options.sentinels, options.clusterNodes].filter((value) => value !== undefined && value !== '');
  if (given.length > 1) throw new ConfigError('give one of --redis, --sentinels, --cluster-nodes');
  const list = (value: string) => {
    try {
      return value.split(',').map((item) => item.trim()).filter(Boolean).map(parseNodeAddress);
    } catch (error) {
      throw new ConfigError((error as Error).message);
    }
  };
  const password = options.redisPassword ? { password: options.redisPassword } : {};
  if (options.sentinels) {
    if (!options.sentinelName) throw new ConfigError('--sentinels needs --sentinel-name (SWITCHBOARD_REDIS_SENTINEL_NAME)');
    return { kind: 'sentinel', name: options.sentinelName, sentinels: list(options.sentinels), ...password };
  }
  if (options.clusterNodes) return { kind: 'cluster', nodes: list(options.clusterNodes), ...password };
  if (options.redis) return { kind: 'single', url: options.redis };
  if (options.sentinelName) throw new ConfigError('--sentinel-name needs --sentinels');
  return hubs;
}
