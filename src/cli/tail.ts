import { RedisUnavailableError } from '../errors.js';
import { LogReader } from '../log/reader.js';
import { describeError } from '../core/describe-error.js';
import { createRedisClient, describeTopology, untilFirstConnect, type RedisTopology } from '../redis/client.js';

/** How long the first connection may take before tail gives up. */
const FIRST_CONNECT_TIMEOUT_MS = 10_000;

/** The options and environment variable that say where Redis is, for each topology. */
const WHERE_TO_SET: Record<RedisTopology['kind'], string> = {
  single: '--redis, SWITCHBOARD_REDIS_URL',
  sentinel: '--sentinels, SWITCHBOARD_REDIS_SENTINELS',
  cluster: '--cluster-nodes, SWITCHBOARD_REDIS_CLUSTER_NODES',
};

export interface TailOptions {
  redis: RedisTopology;
  /** Follow Switchboard's event log stream (non-destructively) instead of Pub/Sub. */
  logKey?: string;
}

/**
 * `switchboard tail [patterns…]`: pattern-subscribes and pretty-prints every notification, or
 * follows the event log (which also shows CDRs, whose Enigma list must not be consumed here).
 */
export async function tailCommand(patterns: string[], options: TailOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const client = createRedisClient({ topology: options.redis, name: 'switchboard-tail' });
  const where = describeTopology(options.redis);
  let lastError: Error | undefined;
  /** The last error printed after the first connection: the same one again while reconnecting adds nothing. */
  let reported: string | undefined;
  let connected = false;
  client.on('error', (error: Error) => {
    lastError = error;
    const reason = describeError(error);
    if (!connected || reason === reported) return;
    reported = reason;
    out.write(`redis: ${reason}; reconnecting (Ctrl-C to stop)\n`);
  });
  client.on('ready', () => (reported = undefined));
  client.connect().catch((error: unknown) => (lastError = error instanceof Error ? error : new Error(String(error))));
  if (!(await untilFirstConnect(client, FIRST_CONNECT_TIMEOUT_MS))) {
    client.destroy();
    const why = lastError ? describeError(lastError) : `no answer in ${FIRST_CONNECT_TIMEOUT_MS / 1000} s`;
    throw new RedisUnavailableError(`cannot reach Redis at ${where}: ${why}: is Redis running, and is it the hub's? (${WHERE_TO_SET[options.redis.kind]})`);
  }
  connected = true;
  const colour = 'isTTY' in out && out.isTTY;
  const print = (channel: string, message: string) => {
    const time = new Date().toISOString().slice(11, 23);
    out.write(colour ? `\x1b[2m${time}\x1b[0m \x1b[36m${channel}\x1b[0m ${message}\n` : `${time} ${channel} ${message}\n`);
  };

  const stop = new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  if (options.logKey) {
    out.write(`following ${options.logKey} on ${where} (Ctrl-C to stop)\n`);
    const log = new LogReader(client, options.logKey);
    const stopped = new AbortController();
    void stop.then(() => stopped.abort());
    for await (const entries of log.follow(await log.head(), { signal: stopped.signal, count: 100 })) {
      for (const entry of entries) print(`${entry.position} ${entry.type}`, entry.json);
    }
  } else {
    const subscribed = patterns.length > 0 ? patterns : ['enigma:notifications:*', 'callcenter_events'];
    await client.pSubscribe(subscribed, (message, channel) => print(channel, message));
    out.write(`subscribed to ${subscribed.join(', ')} on ${where} (Ctrl-C to stop)\n`);
    await stop;
  }
  await client.close();
}
