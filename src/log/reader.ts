import { Backoff, REDIS_RETRY } from '../core/backoff.js';
import type { RedisClient } from '../redis/client.js';
import { decodeEntry, type LogEntry, type RawStreamEntry } from './codec.js';

/** The position before the first entry of the log. */
export const LOG_START = '0-0';

const POSITION = /^(\d{1,16})-(\d{1,20})$/;
const MAX_SEQUENCE = '18446744073709551615';

/** True for a well-formed log position (`<ms>-<seq>`). */
export function isPosition(value: string): boolean {
  return POSITION.test(value);
}

/** Orders two positions (stream ids compare as (ms, seq) pairs). */
export function comparePositions(a: string, b: string): number {
  const [aMs = '0', aSeq = '0'] = a.split('-');
  const [bMs = '0', bSeq = '0'] = b.split('-');
  return Number(aMs) - Number(bMs) || compareDigits(aSeq, bSeq);
}

function compareDigits(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/** The position just before every entry accepted at or after `timeMs`: reading after it starts there. */
export function positionBefore(timeMs: number): string {
  return timeMs <= 0 ? LOG_START : `${Math.floor(timeMs) - 1}-${MAX_SEQUENCE}`;
}

/** When the hub accepted the entry at `position` (epoch ms). */
export function positionTime(position: string): number {
  return Number(position.slice(0, position.indexOf('-')));
}

export interface FollowOptions {
  /** Ends the iteration (checked between reads; a read blocks at most `blockMs`). */
  signal?: AbortSignal;
  /** Entries per read. */
  count?: number;
  blockMs?: number;
  /** Redis failed a read; the follower retries with backoff. */
  onError?: (error: Error) => void;
}

/**
 * The one reader of the event log: its head, ranges after a position or from a time, and a
 * blocking follow, all yielding decoded entries (./codec.ts). Uses only typed stream commands on a
 * single key, so the same code runs on a standalone, Sentinel or Cluster client. `follow` blocks
 * its client: give it a connection of its own.
 */
export class LogReader {
  constructor(
    private readonly client: RedisClient,
    /** The event log stream (keys.eventLog). */
    readonly key: string,
  ) {}

  /** The position of the newest entry, or LOG_START when the log is empty. */
  async head(): Promise<string> {
    const [last] = (await this.client.xRevRange(this.key, '+', '-', { COUNT: 1 })) as unknown as RawStreamEntry[];
    return last?.id ?? LOG_START;
  }

  /** The position of the oldest entry still kept (retention trims the rest), or undefined when empty. */
  async oldest(): Promise<string | undefined> {
    const [first] = (await this.client.xRange(this.key, '-', '+', { COUNT: 1 })) as unknown as RawStreamEntry[];
    return first?.id;
  }

  /** Up to `count` entries after `position`, oldest first. */
  async after(position: string, count: number): Promise<LogEntry[]> {
    const raw = (await this.client.xRange(this.key, `(${position}`, '+', { COUNT: count })) as unknown as RawStreamEntry[];
    return decodeAll(raw);
  }

  /** Up to `count` entries before `position` ('+': the newest), newest first. */
  async before(position: string, count: number): Promise<LogEntry[]> {
    const end = position === '+' ? '+' : `(${position}`;
    const raw = (await this.client.xRevRange(this.key, end, '-', { COUNT: count })) as unknown as RawStreamEntry[];
    return decodeAll(raw);
  }

  /** The newest entry of event `id` among the last `maxEntries` entries (a backwards scan; undefined if not there). */
  async find(id: string, maxEntries: number): Promise<LogEntry | undefined> {
    let position = '+';
    for (let scanned = 0; scanned < maxEntries; ) {
      const page = await this.before(position, Math.min(1000, maxEntries - scanned));
      const found = page.find((entry) => entry.id === id);
      if (found) return found;
      if (page.length === 0) return undefined;
      scanned += page.length;
      position = (page.at(-1) as LogEntry).position;
    }
    return undefined;
  }

  /** Up to `count` entries accepted at or after `timeMs`, oldest first. */
  since(timeMs: number, count: number): Promise<LogEntry[]> {
    return this.after(positionBefore(timeMs), count);
  }

  /** Entries after `position`, waiting up to `blockMs` for the first one (empty when none came). */
  async wait(position: string, count: number, blockMs: number): Promise<LogEntry[]> {
    const reply = (await this.client.xRead({ key: this.key, id: position }, { COUNT: count, BLOCK: blockMs })) as unknown as
      | { messages: RawStreamEntry[] }[]
      | null;
    return decodeAll(reply?.[0]?.messages ?? []);
  }

  /**
   * Every entry after `position`, in order, batch by batch, as they are appended; retries while
   * Redis is away. Ends when `signal` aborts.
   */
  async *follow(position: string, options: FollowOptions = {}): AsyncGenerator<LogEntry[]> {
    const { signal, count = 1000, blockMs = 1000, onError } = options;
    let after = position;
    const backoff = new Backoff(REDIS_RETRY);
    while (!signal?.aborted) {
      let entries: LogEntry[];
      try {
        entries = await this.wait(after, count, blockMs);
        backoff.reset();
      } catch (error) {
        if (signal?.aborted) return;
        onError?.(error as Error);
        await backoff.wait(signal);
        continue;
      }
      if (entries.length === 0) continue;
      after = (entries.at(-1) as LogEntry).position;
      yield entries;
    }
  }
}

function decodeAll(raw: readonly RawStreamEntry[]): LogEntry[] {
  return raw.map(decodeEntry);
}
