import { LogReader } from '../log/reader.js';
import { createRedisClient, describeTopology, type RedisTopology } from '../redis/client.js';

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
  client.on('error', (error: Error) => out.write(`redis: ${error.message}\n`));
  await client.connect();
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
