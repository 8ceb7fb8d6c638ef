import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SpoolFailedError, SpoolFullError } from '../errors.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { Acceptance } from './event-log.js';

export interface SpooledAcceptance extends Acceptance {
  seq: number;
}

/**
 * The local spool: accepted events that could not be written to Redis, fsynced before intake
 * answers. SQLite in WAL mode with synchronous=FULL: a commit is on disk when `push` returns, and
 * WAL frame checksums discard a torn tail after `kill -9` or power loss.
 */
export class Spool {
  private readonly db: Database.Database;
  private readonly insert: Database.Statement<[string, string]>;
  private readonly selectOldest: Database.Statement<[number], { seq: number; event: string; token: string }>;
  private readonly deleteUpTo: Database.Statement<[number]>;
  private readonly insertMany: (acceptances: readonly Acceptance[]) => void;
  private count: number;

  constructor(dataDir: string, maxBytes: number) {
    mkdirSync(dataDir, { recursive: true });
    this.db = new Database(join(dataDir, 'spool.db'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    this.db.pragma(`max_page_count = ${Math.max(16, Math.floor(maxBytes / pageSize))}`);
    this.db.exec('CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, token TEXT NOT NULL)');
    this.insert = this.db.prepare('INSERT INTO spool (event, token) VALUES (?, ?)');
    this.selectOldest = this.db.prepare('SELECT seq, event, token FROM spool ORDER BY seq LIMIT ?');
    this.deleteUpTo = this.db.prepare('DELETE FROM spool WHERE seq <= ?');
    this.insertMany = this.db.transaction((acceptances: readonly Acceptance[]) => {
      for (const { event, token } of acceptances) this.insert.run(JSON.stringify(event), token);
    });
    this.count = (this.db.prepare('SELECT count(*) AS n FROM spool').get() as { n: number }).n;
  }

  /** Events waiting for Redis. */
  get depth(): number {
    return this.count;
  }

  /** Appends events in order, durably (one fsynced transaction). */
  push(acceptances: readonly Acceptance[]): void {
    try {
      this.insertMany(acceptances);
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_FULL') {
        throw new SpoolFullError('the spool is full (disk full or spool.maxBytes reached): events cannot be made durable', { cause: error });
      }
      throw new SpoolFailedError(`the spool cannot store events: ${(error as Error).message}`, { cause: error });
    }
    this.count += acceptances.length;
  }

  /** The oldest spooled events, in acceptance order. */
  peek(limit: number): SpooledAcceptance[] {
    return this.selectOldest.all(limit).map((row) => ({ seq: row.seq, token: row.token, event: JSON.parse(row.event) as AcceptedEvent }));
  }

  /** Forgets every event up to and including `seq`, once Redis holds them. */
  remove(seq: number): void {
    this.count -= this.deleteUpTo.run(seq).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
