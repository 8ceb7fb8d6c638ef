import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
/**
 * What the loop needs of a connection: raw commands with RESP2 replies. A node-redis client is
 * one; so is a Sentinel or Cluster client wrapped as `{ sendCommand: (args) => … }`.
 */
export interface AnyRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Pending entries looked at per script call, so one call never stalls Redis. */
const PAGE = 200;

/** Loaded once per process; run by EVALSHA, falling back to EVAL after a Redis restart (NOSCRIPT). */
const source = readFileSync(new URL('../lua/deadLetter.lua', import.meta.url), 'utf8');
const sha = createHash('sha1').update(source).digest('hex');

export interface DeadLetterTarget {
  stream: string;
  deadLetter: string;
  counters: string;
  group: string;
  claimIdleMs: number;
  maxDeliveries: number;
  deadLetterMaxLength: number;
}

/**
 * Scans a group's idle pending entries and moves those delivered `maxDeliveries` times or more to
 * the dead-letter stream (lua/deadLetter.lua); returns how many moved. Both the hub's sweeper and
 * `consumeCdrs` run it; the script is atomic, so running it from several places at once is safe.
 */
export async function deadLetterGroup(client: AnyRedisClient, target: DeadLetterTarget): Promise<number> {
  let start = '-';
  let moved = 0;
  do {
    const [count, , next] = (await evalScript(client, [target.stream, target.deadLetter, target.counters], [
      target.group,
      String(target.claimIdleMs),
      String(target.maxDeliveries),
      start,
      String(PAGE),
      String(target.deadLetterMaxLength),
    ])) as [number, number, string];
    moved += count;
    start = next;
  } while (start !== '');
  return moved;
}

async function evalScript(client: AnyRedisClient, keys: string[], args: string[]): Promise<unknown> {
  const command = ['EVALSHA', sha, String(keys.length), ...keys, ...args];
  try {
    return await client.sendCommand(command);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    command[0] = 'EVAL';
    command[1] = source;
    return client.sendCommand(command);
  }
}
