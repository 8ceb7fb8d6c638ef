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
 * config, with the hub's environment variables as defaults.
 */
export function addRedisOptions(command: Command, env: NodeJS.ProcessEnv): Command {
  return command
    .option('--redis <url>', 'one Redis node (SWITCHBOARD_REDIS_URL)', env.SWITCHBOARD_REDIS_URL)
    .option('--sentinels <host:port,…>', 'Sentinels of a master (SWITCHBOARD_REDIS_SENTINELS)', env.SWITCHBOARD_REDIS_SENTINELS)
    .option('--sentinel-name <name>', 'the master name the Sentinels monitor (SWITCHBOARD_REDIS_SENTINEL_NAME)', env.SWITCHBOARD_REDIS_SENTINEL_NAME)
    .option('--cluster-nodes <host:port,…>', 'some nodes of a Redis Cluster (SWITCHBOARD_REDIS_CLUSTER_NODES)', env.SWITCHBOARD_REDIS_CLUSTER_NODES)
    .option('--redis-password <password>', 'password of the Sentinel-watched or cluster nodes');
}

/** The topology the options name; one node on 127.0.0.1:6379 when none is given. */
export function topologyFromOptions(options: RedisCliOptions): RedisTopology {
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
  return { kind: 'single', url: options.redis ?? 'redis://127.0.0.1:6379' };
}
