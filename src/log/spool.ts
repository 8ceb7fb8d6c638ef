import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
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
 */
export class Spool {
  private readonly db: Database.Database;
  /** Removals go through their own connection without fsync: see `remove`. */
  private readonly removals: Database.Database;
  private readonly insert: Database.Statement<[number, string]>;
  private readonly selectAfter: Database.Statement<[number, number], { seq: number; acceptances: string }>;
  private readonly countUpTo: Database.Statement<[number], { events: number }>;
  private readonly deleteUpTo: Database.Statement<[number]>;
  private readonly insertRuns: (runs: readonly (readonly Acceptance[])[]) => void;
  private events: number;

  constructor(
    dataDir: string,
    maxBytes: number,
    private readonly rowEvents = 1000,
  ) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'spool.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(`max_page_count = ${Math.max(16, Math.floor(maxBytes / pageSize))}`);
    this.db.exec('CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, events INTEGER NOT NULL, acceptances TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO spool (events, acceptances) VALUES (?, ?)');
    this.selectAfter = this.db.prepare('SELECT seq, acceptances FROM spool WHERE seq > ? ORDER BY seq LIMIT ?');
    this.insertRuns = this.db.transaction((runs: readonly (readonly Acceptance[])[]) => {
      for (const run of runs) this.insert.run(run.length, JSON.stringify(run));
    });
    this.removals = new Database(join(dataDir, 'spool.db'));
    this.removals.pragma('synchronous = NORMAL');
    this.countUpTo = this.removals.prepare('SELECT coalesce(sum(events), 0) AS events FROM spool WHERE seq <= ?');
    this.deleteUpTo = this.removals.prepare('DELETE FROM spool WHERE seq <= ?');
    this.events = (this.db.prepare('SELECT coalesce(sum(events), 0) AS events FROM spool').get() as { events: number }).events;
  }

  /** Events waiting for Redis. */
  get depth(): number {
    return this.events;
  }

  /** Appends events in order, durably (one fsynced transaction). */
  push(acceptances: readonly Acceptance[]): void {
    const runs: Acceptance[][] = [];
    for (let start = 0; start < acceptances.length; start += this.rowEvents) runs.push(acceptances.slice(start, start + this.rowEvents));
    try {
      this.insertRuns(runs);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_FULL') {
        throw new SpoolFullError('the spool is full (disk full or spool.maxBytes reached): events cannot be made durable', { cause: error });
      }
      throw new SpoolFailedError(`the spool cannot store events: ${(error as Error).message}`, { cause: error });
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
