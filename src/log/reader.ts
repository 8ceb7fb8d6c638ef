import type { Logger } from 'pino';
import type { Counter } from 'prom-client';
import type { AcceptedEvent } from '../events/catalogue.js';
import { LogEntryUnreadableError } from '../errors.js';
import { Backoff, REDIS_RETRY } from '../core/backoff.js';
import type { RedisClient } from '../redis/client.js';
import { decode, parseEvent, type EntryFields, type LogEntry } from './codec.js';

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

/** A stream entry as XRANGE and XREAD answer it: its id and field list. */
type RawEntry = [string, string[] | null];

/** How many skipped positions a reader remembers, so a read repeated after a failure does not count them again. */
const REMEMBERED_SKIPS = 1000;

/**
 * Where a reader's unreadable entries go: each one is counted in
 * `switchboard_log_entries_unreadable_total{reader}` and logged once, then skipped (it keeps its
 * position, so the reader moves past it; it is never read again and again).
 */
export class UnreadableEntries {
  private readonly seen = new Set<string>();

  constructor(
    /** Who reads: the metric's label and the log line's `reader`. */
    readonly reader: string,
    private readonly counter: Counter<'reader'> | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  /** Counts and logs the entry at `position`, unless it was reported already. */
  report(position: string, reason: string): void {
    if (this.seen.has(position)) return;
    this.seen.add(position);
    if (this.seen.size > REMEMBERED_SKIPS) this.seen.delete(this.seen.values().next().value as string);
    this.counter?.inc({ reader: this.reader });
    this.logger?.error({ reader: this.reader, position, reason }, 'unreadable event-log entry skipped');
  }
}

/**
 * An entry as readers get it: the fields decoded at once, the event parsed on first use. An
 * unreadable entry (fields missing: type ''; or JSON that is no event) keeps its position, and
 * its `event` throws LogEntryUnreadableError after one report to the reader's UnreadableEntries.
 */
class DecodedEntry implements LogEntry {
  private parsed: AcceptedEvent | undefined;
  readonly id: string;
  readonly type: string;
  readonly json: string;

  constructor(
    readonly position: string,
    fields: EntryFields | undefined,
    private readonly unreadable: UnreadableEntries | undefined,
  ) {
    this.id = fields?.id ?? '';
    this.type = fields?.type ?? '';
    this.json = fields?.json ?? '';
    if (!fields) unreadable?.report(position, 'an entry field (id, type, event) is missing');
  }

  get event(): AcceptedEvent {
    if (this.parsed === undefined) {
      if (this.type === '') throw new LogEntryUnreadableError(`event-log entry ${this.position} holds no event: an entry field (id, type, event) is missing`);
      const parsed = parseEvent(this);
      if (parsed === undefined) {
        this.unreadable?.report(this.position, 'its event is unreadable JSON (or not an event of its type)');
        throw new LogEntryUnreadableError(`event-log entry ${this.position} holds unreadable JSON`);
      }
      this.parsed = parsed;
    }
    return this.parsed;
  }
}

/**
 * The event of `entry`, or undefined when it is unreadable: the reader counted and logged it, the
 * caller only skips it. A consumer of a reader shared with others (the hub's log feed) passes its
 * own `unreadable`, so the entry is counted under its name too, once.
 */
export function readableEvent(entry: LogEntry, unreadable?: UnreadableEntries): AcceptedEvent | undefined {
  try {
    return entry.event;
  } catch (error) {
    if (!(error instanceof LogEntryUnreadableError)) throw error;
    unreadable?.report(entry.position, error.message);
    return undefined;
  }
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
 * The one reader of the event log (and of the integrators' streams, whose entries have the same
 * layout): its head, ranges after a position or from a time, and a blocking follow, all yielding
 * entries decoded by ./codec.ts. Single-key stream commands only, so the same code runs on a
 * standalone, Sentinel or Cluster client. `follow` blocks its client: give it a connection of its
 * own. Unreadable entries are reported to `unreadable` and yielded with their position only.
 */
export class LogReader {
  constructor(
    private readonly client: RedisClient,
    /** The event log stream (keys.eventLog), or an integrators' stream. */
    readonly key: string,
    private readonly unreadable?: UnreadableEntries,
  ) {}

  /** The position of the newest entry, or LOG_START when the log is empty. */
  async head(): Promise<string> {
    const [last] = await this.range('XREVRANGE', '+', '-', 1);
    return last?.[0] ?? LOG_START;
  }

  /** The position of the oldest entry still kept (retention trims the rest), or undefined when empty. */
  async oldest(): Promise<string | undefined> {
    const [first] = await this.range('XRANGE', '-', '+', 1);
    return first?.[0];
  }

  /** Up to `count` entries after `position`, oldest first. */
  after(position: string, count: number): Promise<LogEntry[]> {
    return this.from(`(${position}`, count);
  }

  /** Up to `count` entries from an XRANGE start (`(<position>` exclusive, `<position>` inclusive), oldest first. */
  async from(start: string, count: number): Promise<LogEntry[]> {
    return this.decodeAll(await this.range('XRANGE', start, '+', count));
  }

  /** Up to `count` entries before `position` ('+': the newest), newest first. */
  async before(position: string, count: number): Promise<LogEntry[]> {
    const end = position === '+' ? '+' : `(${position}`;
    return this.decodeAll(await this.range('XREVRANGE', end, '-', count));
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
    const reply = await this.client.sendCommand<[string, RawEntry[]][] | null>(
      ['XREAD', 'COUNT', String(count), 'BLOCK', String(blockMs), 'STREAMS', this.key, position],
      this.key,
    );
    return this.decodeAll(reply?.[0]?.[1] ?? []);
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

  private async range(command: 'XRANGE' | 'XREVRANGE', start: string, end: string, count: number): Promise<RawEntry[]> {
    return (await this.client.sendCommand<RawEntry[] | null>([command, this.key, start, end, 'COUNT', String(count)], this.key)) ?? [];
  }

  private decodeAll(raw: readonly RawEntry[]): LogEntry[] {
    return raw.map(([position, flat]) => new DecodedEntry(position, decode(flat), this.unreadable));
  }
}
