import { createClient } from 'redis';

export type RedisClient = ReturnType<typeof createClient>;

export interface RedisClientOptions {
  url: string;
  /**
   * Commands not written to the socket within this time fail (node-redis: "not sent", so safe to
   * spool). Undefined makes the client patient, for blocking reads and background work.
   */
  commandTimeoutMs?: number;
  /** Fail at once while disconnected instead of queueing: intake must spool, not wait. */
  failFast?: boolean;
  name?: string;
}

/** node-redis client with RESP2 replies, endless capped reconnects and explicit timeouts. */
export function createRedisClient(options: RedisClientOptions): RedisClient {
  const client = createClient({
    url: options.url,
    RESP: 2,
    disableOfflineQueue: options.failFast ?? false,
    maintNotifications: 'disabled',
    ...(options.commandTimeoutMs === undefined ? {} : { commandOptions: { timeout: options.commandTimeoutMs } }),
    ...(options.name === undefined ? {} : { name: options.name }),
    socket: {
      connectTimeout: 2000,
      reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 5), 1000),
    },
  });
  return client as RedisClient;
}

/** Connects without throwing when Redis is down: the client keeps retrying in the background. */
export function connectInBackground(client: RedisClient, onError: (error: Error) => void): void {
  client.on('error', onError);
  client.connect().catch(onError);
}

/** True when the Redis server persists writes with an append-only file. */
export async function hasAppendOnlyPersistence(client: RedisClient): Promise<boolean> {
  const info = await client.info('persistence');
  return /^aof_enabled:1\r?$/m.test(info);
}
