import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SpoolFailedError, SpoolFullError } from '../errors.js';
import type { Output } from '../profiles/output.js';
import type { Acceptance } from './event-log.js';

interface SpoolRow {
  seq: number;
  id: string;
  type: string;
  event: string;
  token: string;
  outputs: string;
}

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
  /** Removals go through their own connection without fsync: see `remove`. */
  private readonly removals: Database.Database;
  private readonly insert: Database.Statement<[string, string, string, string, string]>;
  private readonly selectAfter: Database.Statement<[number, number], SpoolRow>;
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
    this.db.exec(
      'CREATE TABLE IF NOT EXISTS spool (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL, type TEXT NOT NULL, event TEXT NOT NULL, token TEXT NOT NULL, outputs TEXT NOT NULL)',
    );
    this.insert = this.db.prepare('INSERT INTO spool (id, type, event, token, outputs) VALUES (?, ?, ?, ?, ?)');
    this.selectAfter = this.db.prepare('SELECT seq, id, type, event, token, outputs FROM spool WHERE seq > ? ORDER BY seq LIMIT ?');
    this.removals = new Database(join(dataDir, 'spool.db'));
    this.removals.pragma('synchronous = NORMAL');
    this.deleteUpTo = this.removals.prepare('DELETE FROM spool WHERE seq <= ?');
    this.insertMany = this.db.transaction((acceptances: readonly Acceptance[]) => {
      for (const { id, type, json, token, outputs } of acceptances) this.insert.run(id, type, json, token, JSON.stringify(outputs));
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

  /** Spooled events after `seq` (0: the oldest), in acceptance order. */
  read(afterSeq: number, limit: number): SpooledAcceptance[] {
    return this.selectAfter.all(afterSeq, limit).map((row) => ({
      seq: row.seq,
      id: row.id,
      type: row.type,
      json: row.event,
      token: row.token,
      outputs: JSON.parse(row.outputs) as Output[],
    }));
  }

  /**
   * Forgets every event up to and including `seq`, once Redis holds them. Not fsynced: a removal
   * lost to a power cut only replays events the append script then recognises by id.
   */
  remove(seq: number): void {
    this.count -= this.deleteUpTo.run(seq).changes;
  }

  close(): void {
    if (this.removals.open) this.removals.close();
    if (this.db.open) this.db.close();
  }
}
