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

/** The SSE frame of an entry, rendered once however many clients receive it. */
const frames = new WeakMap<LogEntry, string>();

function frameOf(entry: LogEntry): string {
  let frame = frames.get(entry);
  if (frame === undefined) {
    // Stored JSON has no raw line breaks (JSON.stringify escapes them); split defensively all the same.
    const data = /[\r\n]/.test(entry.json) ? entry.json.split(/\r\n|\r|\n/).join('\ndata: ') : entry.json;
    frame = `id: ${entry.position}\nevent: ${entry.type}\ndata: ${data}\n\n`;
    frames.set(entry, frame);
  }
  return frame;
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
    if (!this.closed) this.response.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  }

  deliver(entries: readonly LogEntry[]): void | Promise<void> {
    if (this.closed) return;
    const { filter } = this.options;
    let chunk = '';
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
        if (visible) {
          chunk += frameOf(entry);
          this.sentPosition = entry.position;
          this.eventsSent += 1;
        }
      }
      this.readPosition = entry.position;
    }
    if (chunk === '') return;
    // What is still held from earlier writes: a client that reads gets any one batch, however large.
    if (this.response.writableLength > this.options.bufferLimitBytes) {
      this.close('slow_client');
      return;
    }
    this.response.write(chunk);
    // While catching up, read the next page only once the socket has taken this one.
    if (this.response.writableNeedDrain) {
      return new Promise<void>((resolve) => {
        const done = () => {
          this.response.off('drain', done);
          this.response.off('close', done);
          resolve();
        };
        this.response.once('drain', done);
        this.response.once('close', done);
      });
    }
  }

  private beat(): void {
    if (this.closed) return;
    const advanced = this.readPosition !== this.sentPosition;
    this.response.write(advanced ? `id: ${this.readPosition}\n: heartbeat\n\n` : ': heartbeat\n\n');
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
