import { isUtf8 } from 'node:buffer';
import { SourceProtocolError } from '../../errors.js';

/** One message from FreeSWITCH's Event Socket: a header block and, when Content-Length says so, a body. */
export interface EslFrame {
  headers: Record<string, string>;
  /** The body as UTF-8 text (Content-Length counts its bytes). */
  body: string | undefined;
  /**
   * The header block or body was not valid UTF-8 (checked as intake checks a request body): the
   * body is then left out rather than decoded with replacement characters, and the frame is skipped.
   */
  invalidUtf8?: true;
}

/** A header block longer than this without its blank line is not Event Socket traffic. */
const MAX_HEADER_BYTES = 64 * 1024;
/** mod_event_socket bodies are events and api output; anything larger is a broken stream. */
const MAX_BODY_BYTES = 16 * 1024 * 1024;
const LF = 0x0a;

/**
 * Incremental Event Socket framing. Bytes arrive in arbitrary TCP chunks: a frame may be split
 * across chunks and several may share one. A frame is `Key: Value` lines ending with a blank
 * line; when a `Content-Length` header is present, exactly that many bytes of body follow (bytes,
 * not characters: bodies carry multi-byte UTF-8).
 *
 * Framing errors (an unbounded header block, a bad Content-Length) throw SourceProtocolError: the
 * stream position is lost, so the connection must be dropped. Problems inside a frame's content
 * are the decoder's business (see decodeEvent), and only skip that frame.
 */
export class EslParser {
  private buffer: Buffer = Buffer.alloc(0);
  private offset = 0;
  /** Headers of a frame whose body has not fully arrived yet. */
  private pendingHeaders: Record<string, string> | undefined;
  private pendingLength = 0;
  private pendingInvalid = false;
  /** Chunks of a body still incomplete, joined once it is whole (not once per chunk: a 15 MB answer arrives in hundreds). */
  private parts: Buffer[] = [];
  private partsBytes = 0;

  /** Feeds a chunk; calls `onFrame` for every frame it completes, in order. */
  push(chunk: Buffer, onFrame: (frame: EslFrame) => void): void {
    if (this.pendingHeaders) {
      this.parts.push(chunk);
      this.partsBytes += chunk.length;
      if (this.buffered < this.pendingLength) return;
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), ...this.parts.splice(0)]);
      this.partsBytes = 0;
    } else if (this.offset >= this.buffer.length) {
      this.buffer = chunk;
    } else {
      this.buffer = Buffer.concat([this.buffer.subarray(this.offset), chunk]);
    }
    this.offset = 0;

    for (;;) {
      if (this.pendingHeaders) {
        if (this.buffer.length - this.offset < this.pendingLength) break;
        const bytes = this.buffer.subarray(this.offset, this.offset + this.pendingLength);
        this.offset += this.pendingLength;
        const headers = this.pendingHeaders;
        const invalid = this.pendingInvalid || !isUtf8(bytes);
        this.pendingHeaders = undefined;
        this.pendingInvalid = false;
        onFrame(invalid ? { headers, body: undefined, invalidUtf8: true } : { headers, body: bytes.toString('utf8') });
        continue;
      }
      // A frame may be preceded by stray blank lines (FreeSWITCH sends none, but some proxies do).
      while (this.offset < this.buffer.length && this.buffer[this.offset] === LF) this.offset += 1;
      const end = this.buffer.indexOf('\n\n', this.offset);
      if (end < 0) {
        if (this.buffer.length - this.offset > MAX_HEADER_BYTES) {
          throw new SourceProtocolError(`Event Socket header block longer than ${MAX_HEADER_BYTES} bytes without a blank line`);
        }
        break;
      }
      const block = this.buffer.subarray(this.offset, end);
      const invalid = !isUtf8(block);
      const headers = parseHeaderBlock(block.toString('utf8'), false);
      this.offset = end + 2;
      const length = headers['Content-Length'];
      if (length === undefined) {
        onFrame(invalid ? { headers, body: undefined, invalidUtf8: true } : { headers, body: undefined });
        continue;
      }
      if (!/^\d{1,9}$/.test(length) || Number(length) > MAX_BODY_BYTES) {
        throw new SourceProtocolError(`Event Socket frame with an invalid Content-Length: "${length.slice(0, 32)}"`);
      }
      this.pendingHeaders = headers;
      this.pendingLength = Number(length);
      this.pendingInvalid = invalid;
    }
    if (this.offset === this.buffer.length) {
      this.buffer = Buffer.alloc(0);
      this.offset = 0;
    }
  }

  /** Bytes received but not yet part of a complete frame. */
  get buffered(): number {
    return this.buffer.length - this.offset + this.partsBytes;
  }
}

/**
 * `Key: Value` lines. `urlDecoded`: the values of `text/event-plain` bodies are URL-encoded; the
 * outer headers of a frame are not. A line without a colon is ignored (FreeSWITCH never sends one).
 */
export function parseHeaderBlock(text: string, urlDecoded: boolean): Record<string, string> {
  const headers: Record<string, string> = {};
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const colon = text.indexOf(':', start);
    if (colon > start && colon < end) {
      const key = text.slice(start, colon);
      let valueStart = colon + 1;
      if (text.charCodeAt(valueStart) === 0x20) valueStart += 1;
      let valueEnd = end;
      if (text.charCodeAt(valueEnd - 1) === 0x0d) valueEnd -= 1;
      const raw = text.slice(valueStart, valueEnd);
      headers[key] = urlDecoded && raw.includes('%') ? decodeURIComponent(raw) : raw;
    }
    start = end + 1;
  }
  return headers;
}

/**
 * The event carried by a `text/event-json` or `text/event-plain` frame, as one flat object of
 * header names to string values (`_body` holds an event's own body). Throws on a malformed body:
 * the caller counts it and skips the frame; framing is intact.
 */
export function decodeEvent(frame: EslFrame): Record<string, string> {
  const type = frame.headers['Content-Type'];
  const body = frame.body ?? '';
  if (type === 'text/event-json') {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new SyntaxError('event JSON is not an object');
    // FreeSWITCH sends strings only; anything else is made a string or dropped, in place.
    const event = parsed as Record<string, unknown>;
    for (const key in event) {
      const value = event[key];
      if (typeof value === 'string') continue;
      if (typeof value === 'number') event[key] = String(value);
      else delete event[key];
    }
    return event as Record<string, string>;
  }
  if (type === 'text/event-plain') {
    // The event's own headers end at a blank line; an event body (Content-Length) may follow.
    const split = body.indexOf('\n\n');
    const event = parseHeaderBlock(split < 0 ? body : body.slice(0, split), true);
    if (split >= 0 && event['Content-Length'] !== undefined) event._body = body.slice(split + 2);
    return event;
  }
  throw new SyntaxError(`not an event frame: Content-Type ${type ?? '(none)'}`);
}
