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

/** An entry as XREADGROUP and XCLAIM answer it (RESP2): its id and flat field list, or null once trimmed. */
export type StreamEntry = [string, string[] | null];

interface ScanPage {
  next: string;
  moved: number;
  claimed: StreamEntry[];
}

/** One page of the scan (lua/deadLetter.lua); with `claimant`, the page's other idle entries become its. */
async function scanPage(client: AnyRedisClient, target: DeadLetterTarget, start: string, claimant: string): Promise<ScanPage> {
  const [moved, , next, claimed] = (await evalScript(client, [target.stream, target.deadLetter, target.counters], [
    target.group,
    String(target.claimIdleMs),
    String(target.maxDeliveries),
    start,
    String(PAGE),
    String(target.deadLetterMaxLength),
    claimant,
  ])) as [number, number, string, StreamEntry[]];
  return { moved, next, claimed };
}

/**
 * Scans a group's idle pending entries and moves those delivered `maxDeliveries` times or more to
 * the dead-letter stream; returns how many moved. The hub's sweeper runs it for consumers that do
 * not use `consumeCdrs`; the script is atomic, so running it from several places at once is safe.
 */
export async function deadLetterGroup(client: AnyRedisClient, target: DeadLetterTarget): Promise<number> {
  let start = '-';
  let moved = 0;
  do {
    const page = await scanPage(client, target, start, '');
    moved += page.moved;
    start = page.next;
  } while (start !== '');
  return moved;
}

/**
 * The same scan, claiming every idle entry it does not dead-letter to `consumer`: one page of
 * claimed entries at a time. A poison entry is dead-lettered at its limit, never claimed once more.
 */
export async function* claimIdleEntries(client: AnyRedisClient, target: DeadLetterTarget, consumer: string): AsyncGenerator<StreamEntry[]> {
  let start = '-';
  do {
    const page = await scanPage(client, target, start, consumer);
    if (page.claimed.length > 0) yield page.claimed;
    start = page.next;
  } while (start !== '');
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
