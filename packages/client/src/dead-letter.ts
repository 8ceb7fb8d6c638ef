import { evalScript, loadLuaScript } from './lua-loader.js';
/**
 * What the loop needs of a connection: raw commands with RESP2 replies. A node-redis client is
 * one; so is a Sentinel or Cluster client wrapped as `{ sendCommand: (args) => … }`.
 */
export interface AnyRedisClient {
  sendCommand(args: string[]): Promise<unknown>;
}

/** Pending entries looked at per script call, so one call never stalls Redis. */
const PAGE = 200;

/** Loaded once per process by the hub's own Lua loader (./lua-loader.ts, shared at build time). */
const deadLetterScript = loadLuaScript(new URL('../lua/', import.meta.url), 'deadLetter');

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
  const keys = [target.stream, target.deadLetter, target.counters];
  const [moved, , next, claimed] = (await evalScript(deadLetterScript, keys, [
    target.group,
    String(target.claimIdleMs),
    String(target.maxDeliveries),
    start,
    String(PAGE),
    String(target.deadLetterMaxLength),
    claimant,
  ], (command) => client.sendCommand(command))) as [number, number, string, StreamEntry[]];
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
