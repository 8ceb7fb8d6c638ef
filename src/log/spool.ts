import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describeError } from '../core/describe-error.js';
import { SpoolFailedError, SpoolFullError } from '../errors.js';
import type { Acceptance } from './event-log.js';

/** Spooled events, oldest first, and the last row they came from (for `remove`). */
export interface SpooledBatch {
  lastSeq: number;
  acceptances: Acceptance[];
}

/**
 * The local spool: accepted events that could not be written to Redis, fsynced before intake
 * answers. SQLite in WAL mode with synchronous=FULL: a commit is on disk when `push` returns, and
 * WAL frame checksums discard a torn tail after `kill -9` or power loss.
 *
 * A row holds a run of up to `rowEvents` consecutive events (their JSON array): SQLite's cost is
 * per row, so spooling and draining pay it once per run rather than once per event.
 *
 * `maxBytes` bounds the pages in use plus the WAL file, checked before every push. SQLite's own
 * `max_page_count` cannot do it alone: it never goes below the file's current size (a spool that
 * grew under a larger limit would keep it) and ignores the WAL. Over the limit, pushes fail with
 * SPOOL_FULL while the drain goes on; nothing spooled is dropped (docs/event-log.md).
 */
export class Spool {
  private readonly db: Database.Database;
  /** Removals go through their own connection without fsync: see `remove`. */
  private readonly removals: Database.Database;
  private readonly insert: Database.Statement<[number, string]>;
  private readonly selectAfter: Database.Statement<[number, number], { seq: number; acceptances: string }>;
  private readonly countUpTo: Database.Statement<[number], { events: number }>;
  private readonly deleteUpTo: Database.Statement<[number]>;
  private readonly insertRuns: (rows: readonly { events: number; text: string }[]) => void;
  private readonly walPath: string;
  private readonly pageSize: number;
  private events: number;

  constructor(
    dataDir: string,
    private readonly maxBytes: number,
    private readonly rowEvents = 1000,
  ) {
    mkdirSync(dataDir, { recursive: true });
    const path = join(dataDir, 'spool.db');
    this.walPath = `${path}-wal`;
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const limitPages = Math.max(16, Math.floor(maxBytes / this.pageSize));
    this.db.pragma(`max_page_count = ${limitPages}`);
    // The WAL counts toward the limit: checkpoint it at an eighth of the limit (SQLite's default is
    // 1000 pages, 4 MB), and truncate it back to that size after a checkpoint rather than keep its peak.
    const walPages = Math.max(4, Math.min(1000, Math.floor(limitPages / 8)));
    this.db.pragma(`wal_autocheckpoint = ${walPages}`);
    this.db.pragma(`journal_size_limit = ${walPages * this.pageSize}`);
    this.db.exec('CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, events INTEGER NOT NULL, acceptances TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO spool (events, acceptances) VALUES (?, ?)');
    this.selectAfter = this.db.prepare('SELECT seq, acceptances FROM spool WHERE seq > ? ORDER BY seq LIMIT ?');
    this.insertRuns = this.db.transaction((rows: readonly { events: number; text: string }[]) => {
      for (const row of rows) this.insert.run(row.events, row.text);
    });
    this.removals = new Database(join(dataDir, 'spool.db'));
    this.removals.pragma('synchronous = NORMAL');
    this.removals.pragma(`wal_autocheckpoint = ${walPages}`);
    this.removals.pragma(`journal_size_limit = ${walPages * this.pageSize}`);
    this.countUpTo = this.removals.prepare('SELECT coalesce(sum(events), 0) AS events FROM spool WHERE seq <= ?');
    this.deleteUpTo = this.removals.prepare('DELETE FROM spool WHERE seq <= ?');
    this.events = (this.db.prepare('SELECT coalesce(sum(events), 0) AS events FROM spool').get() as { events: number }).events;
    // A WAL left by a killed process is replayed on open: fold it into the file now, so that it
    // does not count against the limit until the next write (none would be accepted meanwhile).
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    // A drained spool that grew under a larger limit gives its free pages back to the disk.
    if (this.events === 0 && (this.db.pragma('page_count', { simple: true }) as number) > limitPages) this.db.exec('VACUUM');
  }

  /** Events waiting for Redis. */
  get depth(): number {
    return this.events;
  }

  /** Bytes the spool takes on disk: pages in use (free pages are reused first) and the WAL. */
  get sizeBytes(): number {
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    let wal = 0;
    try {
      wal = statSync(this.walPath).size;
    } catch {
      // No WAL file between connections: nothing to count.
    }
    return (pages - free) * this.pageSize + wal;
  }

  /** Appends events in order, durably (one fsynced transaction). */
  push(acceptances: readonly Acceptance[]): void {
    const runs: Acceptance[][] = [];
    for (let start = 0; start < acceptances.length; start += this.rowEvents) runs.push(acceptances.slice(start, start + this.rowEvents));
    const encoded = runs.map((run) => JSON.stringify(run));
    // The rows' text is most of what they add (in the table, then once more in the WAL until a checkpoint).
    const adding = encoded.reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    const size = this.sizeBytes;
    if (size + adding > this.maxBytes) {
      throw new SpoolFullError(
        `the spool is full (${size} bytes on disk with its WAL, spool.maxBytes ${this.maxBytes}): events cannot be made durable until it drains`,
      );
    }
    try {
      this.insertRuns(runs.map((run, index) => ({ events: run.length, text: encoded[index] as string })));
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_FULL') {
        throw new SpoolFullError('the spool is full (disk full or spool.maxBytes reached): events cannot be made durable', { cause: error });
      }
      throw new SpoolFailedError(`the spool cannot store events: ${describeError(error)}`, { cause: error });
    }
    this.events += acceptances.length;
  }

  /** About `limit` spooled events after row `afterSeq` (0: the oldest), whole rows, in acceptance order. */
  read(afterSeq: number, limit: number): SpooledBatch | undefined {
    const rows = this.selectAfter.all(afterSeq, Math.max(1, Math.floor(limit / this.rowEvents)));
    const last = rows.at(-1);
    if (!last) return undefined;
    return { lastSeq: last.seq, acceptances: rows.flatMap((row) => JSON.parse(row.acceptances) as Acceptance[]) };
  }

  /**
   * Forgets every event up to and including row `seq`, once Redis holds them. Not fsynced: a
   * removal lost to a power cut only replays events the append script then recognises by id.
   */
  remove(seq: number): void {
    const removed = this.countUpTo.get(seq)?.events ?? 0;
    this.deleteUpTo.run(seq);
    this.events -= removed;
  }

  close(): void {
    if (this.removals.open) this.removals.close();
    if (this.db.open) this.db.close();
  }
}
