import type { ServerResponse } from 'node:http';
import type { LogEntry } from '../log/codec.js';
import type { FeedConsumer, FeedSubscription } from '../log/feed.js';
import type { EventFilter } from './filter.js';

/** Why a stream ended; sent as the data of the last `stream.closed` message. */
export type CloseReason = 'slow_client' | 'shutting_down';

export interface SseClientOptions {
  filter: EventFilter;
  /** Bytes the hub holds for a client that does not read; beyond it the client is disconnected. */
  bufferLimitBytes: number;
  heartbeatMs: number;
  /** Where the stream starts (the resume position). */
  after: string;
  onClose(reason: CloseReason | 'client_gone'): void;
}

/**
 * The SSE frame of an entry, encoded once however many clients receive it: every client's socket
 * holds a reference to the same Buffer, never a copy of its own.
 */
const frames = new WeakMap<LogEntry, Buffer>();
/** A live batch every entry of which a client sends, encoded once for all such clients (see LogFeed). */
const batches = new WeakMap<readonly LogEntry[], Buffer>();

function frameOf(entry: LogEntry): Buffer {
  let frame = frames.get(entry);
  if (frame === undefined) {
    // Stored JSON has no raw line breaks (JSON.stringify escapes them); split defensively all the same.
    const data = /[\r\n]/.test(entry.json) ? entry.json.split(/\r\n|\r|\n/).join('\ndata: ') : entry.json;
    frame = Buffer.from(`id: ${entry.position}\nevent: ${entry.type}\ndata: ${data}\n\n`, 'utf8');
    frames.set(entry, frame);
  }
  return frame;
}

function batchOf(entries: readonly LogEntry[]): Buffer {
  let batch = batches.get(entries);
  if (batch === undefined) {
    batch = entries.length === 1 ? frameOf(entries[0] as LogEntry) : Buffer.concat(entries.map(frameOf));
    batches.set(entries, batch);
  }
  return batch;
}

/** Bytes to write and the log position a client has received once they are written. */
interface Piece {
  bytes: Buffer;
  position: string;
  /** The frames it is made of, when it is a whole batch (written one by one if the batch does not fit). */
  frames?: readonly Piece[];
}

/**
 * One Server-Sent Events client of the event log. Writes matching entries as they arrive; a
 * client that stops reading has its bytes held by the hub up to `bufferLimitBytes`, then gets a
 * last `stream.closed` message naming the position to resume after, and is disconnected.
 *
 * `id:` is the log position of every event sent. A heartbeat also carries an `id:` line (no
 * data, so EventSource dispatches nothing but remembers it) when filtered-out entries moved the
 * position on: a reconnect then resumes from there rather than re-reading them.
 */
export class SseClient implements FeedConsumer {
  private readonly heartbeat: NodeJS.Timeout;
  /** Last position written as an `id:`, and last position read (sent or filtered out). */
  private sentPosition: string;
  private readPosition: string;
  private closed = false;
  private readonly flushWaiters = new Set<() => void>();
  subscription: FeedSubscription | undefined;
  eventsSent = 0;

  constructor(
    private readonly response: ServerResponse,
    private readonly options: SseClientOptions,
  ) {
    this.sentPosition = options.after;
    this.readPosition = options.after;
    this.heartbeat = setInterval(() => this.beat(), options.heartbeatMs);
    this.heartbeat.unref();
    response.on('close', () => this.finish('client_gone'));
  }

  /** Writes a control message (no `id:`: it is not a log event). */
  control(event: string, data: Record<string, unknown>): void {
    if (!this.closed) this.send(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  /**
   * Writes the entries this client wants. What the hub holds for the client (the socket's unsent
   * bytes) never passes `bufferLimitBytes` with the batch included, except for a single frame
   * larger than the limit on an empty buffer (an event can be as large as http.bodyLimitBytes).
   * A live batch that does not fit disconnects the client; while catching up, the next frames
   * wait for the socket to drain (the feed reads its next page only after that).
   */
  deliver(entries: readonly LogEntry[]): void | Promise<void> {
    if (this.closed) return;
    const { filter } = this.options;
    const wanted: Piece[] = [];
    for (const entry of entries) {
      if (entry.type !== '' && filter.wantsType(entry.type)) {
        let visible = true;
        if (filter.scoped) {
          try {
            visible = filter.matches(entry.type, () => entry.event);
          } catch {
            visible = false;
          }
        }
        if (visible) wanted.push({ bytes: frameOf(entry), position: entry.position });
      }
      this.readPosition = entry.position;
    }
    if (wanted.length === 0) return;
    const pieces = wanted.length === entries.length && wanted.length > 1 ? [{ bytes: batchOf(entries), position: this.readPosition, frames: wanted }] : wanted;
    if (this.subscription?.live === false) return this.writePaced(pieces);
    if (!this.writeWithin(pieces)) this.close('slow_client');
  }

  /** Writes pieces while they fit in the buffer limit; false when one did not (the rest is unwritten). */
  private writeWithin(pieces: readonly Piece[]): boolean {
    for (const piece of pieces) {
      const held = this.response.writableLength;
      if (held + piece.bytes.length > this.options.bufferLimitBytes && (held > 0 || piece.frames)) {
        if (!piece.frames || !this.writeWithin(piece.frames)) return false;
        continue;
      }
      this.send(piece.bytes);
      this.sentPosition = piece.position;
      this.eventsSent += piece.frames?.length ?? 1;
    }
    return true;
  }

  /** Catching up: frames that do not fit wait for the socket to drain. */
  private async writePaced(pieces: readonly Piece[]): Promise<void> {
    const frames = pieces.flatMap((piece) => piece.frames ?? [piece]);
    let next = 0;
    while (next < frames.length && !this.closed) {
      const piece = frames[next] as Piece;
      const held = this.response.writableLength;
      if (held > 0 && held + piece.bytes.length > this.options.bufferLimitBytes) {
        await this.drained();
        continue;
      }
      this.send(piece.bytes);
      this.sentPosition = piece.position;
      this.eventsSent += 1;
      next += 1;
    }
    // Read the next page only once the socket has taken this one.
    if (this.response.writableNeedDrain && !this.closed) await this.drained();
  }

  /**
   * Resolves once the socket has taken a further write (every write reports it, in order), has
   * drained, or is gone; 'drain' alone would not do when the limit is below the socket's high-water mark.
   */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        this.response.off('drain', done);
        this.response.off('close', done);
        this.flushWaiters.delete(done);
        resolve();
      };
      this.flushWaiters.add(done);
      this.response.once('drain', done);
      this.response.once('close', done);
    });
  }

  /** Every write goes through here so that `drained` hears of each one handed to the kernel. */
  private send(bytes: Buffer | string): void {
    this.response.write(bytes, this.flushed);
  }

  private readonly flushed = (): void => {
    for (const wake of [...this.flushWaiters]) wake();
  };

  private beat(): void {
    if (this.closed) return;
    const advanced = this.readPosition !== this.sentPosition;
    this.send(advanced ? `id: ${this.readPosition}\n: heartbeat\n\n` : ': heartbeat\n\n');
    if (advanced) this.sentPosition = this.readPosition;
  }

  /** Sends the reason and where to resume, then ends the response. */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.control('stream.closed', { reason, resume_after: this.sentPosition });
    const socket = this.response.socket;
    this.response.end();
    if (reason === 'slow_client' && socket) {
      // A disconnect closes the connection too: kept alive, it would idle until the keep-alive
      // timeout. If it does not drain within a second, do not hold it (or its buffer) any longer.
      this.response.once('finish', () => socket.end());
      setTimeout(() => socket.destroy(), 1000).unref();
    }
    this.finish(reason);
  }

  private finish(reason: CloseReason | 'client_gone'): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.heartbeat);
    this.subscription?.close();
    this.options.onClose(reason);
  }
}
