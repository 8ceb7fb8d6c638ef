import { setTimeout as sleep } from 'node:timers/promises';
import { LogEntryUnreadableError } from '../../../src/errors.js';
import type { AcceptedEvent } from '../../../src/events/catalogue.js';
import type { LogEntry } from '../../../src/log/codec.js';
import { encodeEvent, parseEvent } from '../../../src/log/codec.js';
import type { FeedReader } from '../../../src/log/feed.js';
import { comparePositions, LOG_START, type FollowOptions } from '../../../src/log/reader.js';

/** A log entry built in memory, read as LogReader yields one: `event` parsed on use, throwing when unreadable. */
export function memoryEntry(position: string, fields: { id: string; type: string; json: string }): LogEntry {
  let parsed: AcceptedEvent | undefined;
  return {
    position,
    ...fields,
    get event(): AcceptedEvent {
      parsed ??= parseEvent(fields);
      if (parsed === undefined) throw new LogEntryUnreadableError(`event-log entry ${position} holds unreadable JSON`);
      return parsed;
    },
  };
}

/**
 * An event log in memory with the reads LogFeed makes (`head`, `after`, a blocking `follow`), for
 * unit tests without redis-server. Reads can be made to fail (`failReads`), as they do while Redis
 * is away; `follow` then reports the error and retries, like src/log/reader.ts. The real reader
 * stays covered by test/log-reader.test.ts.
 */
export class MemoryLog implements FeedReader {
  readonly entries: LogEntry[] = [];
  /** Reads made (head, after, and each wait of follow). */
  reads = 0;
  private failing = 0;
  private waiters = new Set<() => void>();
  private nextMs = 1000;

  /** Appends events, each at a new position (`<ms>-0`, increasing). */
  append(...events: AcceptedEvent[]): LogEntry[] {
    return this.push(events.map((event) => ({ id: event.id, type: event.type, json: encodeEvent(event) })));
  }

  /** Appends an entry the hub did not write (its JSON is no event). */
  appendUnreadable(type = 'call.ended'): LogEntry {
    return this.push([{ id: `unreadable-${this.nextMs}`, type, json: '{not json' }])[0] as LogEntry;
  }

  /** The next `count` reads throw, as they do while Redis is away. */
  failReads(count: number): void {
    this.failing += count;
  }

  async head(): Promise<string> {
    this.read();
    return this.entries.at(-1)?.position ?? LOG_START;
  }

  async after(position: string, count: number): Promise<LogEntry[]> {
    this.read();
    return this.entriesAfter(position, count);
  }

  async *follow(position: string, options: FollowOptions = {}): AsyncGenerator<LogEntry[]> {
    const { signal, count = 1000, blockMs = 1000, onError } = options;
    let after = position;
    while (!signal?.aborted) {
      try {
        this.read();
      } catch (error) {
        onError?.(error as Error);
        await sleep(5);
        continue;
      }
      const entries = this.entriesAfter(after, count);
      if (entries.length === 0) {
        await this.arrival(blockMs, signal);
        continue;
      }
      after = (entries.at(-1) as LogEntry).position;
      yield entries;
    }
  }

  private push(fields: { id: string; type: string; json: string }[]): LogEntry[] {
    const added = fields.map((entry) => memoryEntry(`${this.nextMs++}-0`, entry));
    this.entries.push(...added);
    for (const wake of [...this.waiters]) wake();
    return added;
  }

  private read(): void {
    this.reads += 1;
    if (this.failing > 0) {
      this.failing -= 1;
      throw new Error('injected: redis unreachable');
    }
  }

  private entriesAfter(position: string, count: number): LogEntry[] {
    const start = this.entries.findIndex((entry) => comparePositions(entry.position, position) > 0);
    return start === -1 ? [] : this.entries.slice(start, start + count);
  }

  /** Resolves on the next append, after `blockMs`, or on abort (XREAD BLOCK). */
  private arrival(blockMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, blockMs);
      signal?.addEventListener('abort', done);
      this.waiters.add(done);
    });
  }
}
