import { StringDecoder } from 'node:string_decoder';
import { SourceProtocolError } from '../../errors.js';

/**
 * One Asterisk Manager Interface message: a `Response:` or an `Event:` (the server never sends
 * `Action:`). Headers are message-local; a name may repeat (`ChanVariable`), so repeats of a
 * channel variable are gathered in `variables`.
 */
export interface AmiMessage {
  headers: Record<string, string>;
  /** `ChanVariable: name=value` (Asterisk 12+) and `ChanVariable(<channel>): name=value` (1.8). */
  variables: Record<string, string>;
  /** Lines without a colon (the output of a legacy `Response: Follows`). */
  output: string[];
}

/** A message longer than this without its blank line is not AMI traffic. */
const MAX_MESSAGE_BYTES = 256 * 1024;

/**
 * Incremental AMI framing: `Key: Value` lines ending in CRLF, a blank line ends a message. The
 * first line of a session is the banner (`Asterisk Call Manager/5.0.2`), with no blank line after
 * it. Bytes arrive in arbitrary TCP chunks.
 */
export class AmiParser {
  private text = '';
  private bannerSeen = false;
  /** The blank line that ends a message. */
  private separator = '\r\n\r\n';
  /** Keeps a multi-byte UTF-8 character split across chunks whole. */
  private readonly decoder = new StringDecoder('utf8');

  constructor(private readonly onBanner: (banner: string) => void) {}

  push(chunk: Buffer, onMessage: (message: AmiMessage) => void): void {
    const decoded = this.decoder.write(chunk);
    this.text = this.text.length === 0 ? decoded : this.text + decoded;
    let start = 0;
    if (!this.bannerSeen) {
      const end = this.text.indexOf('\n');
      if (end < 0) {
        if (this.text.length > 1024) throw new SourceProtocolError('no AMI banner line in the first 1024 bytes');
        return;
      }
      // Asterisk ends lines with CRLF; a peer that ends its banner with a bare LF (a proxy, a test tool) is read in LF.
      if (this.text.charCodeAt(end - 1) !== 0x0d) this.separator = '\n\n';
      const banner = this.text.slice(0, end).replace(/\r$/, '');
      if (!banner.startsWith('Asterisk Call Manager/')) {
        throw new SourceProtocolError(`not an Asterisk Manager banner: "${banner.slice(0, 80)}"`);
      }
      this.bannerSeen = true;
      this.onBanner(banner);
      start = end + 1;
    }
    for (;;) {
      const end = this.text.indexOf(this.separator, start);
      if (end < 0) break;
      const block = this.text.slice(start, end);
      start = end + this.separator.length;
      if (block.trim().length === 0) continue;
      onMessage(parseMessage(block));
    }
    this.text = start >= this.text.length ? '' : this.text.slice(start);
    if (this.text.length > MAX_MESSAGE_BYTES) {
      throw new SourceProtocolError(`AMI message longer than ${MAX_MESSAGE_BYTES} bytes without a blank line`);
    }
  }
}

function parseMessage(block: string): AmiMessage {
  const message: AmiMessage = { headers: {}, variables: {}, output: [] };
  let start = 0;
  while (start < block.length) {
    let end = block.indexOf('\n', start);
    if (end < 0) end = block.length;
    const lineEnd = block.charCodeAt(end - 1) === 0x0d ? end - 1 : end;
    if (lineEnd > start) {
      const colon = block.indexOf(':', start);
      if (colon <= start || colon >= lineEnd) {
        message.output.push(block.slice(start, lineEnd));
      } else {
        const key = block.slice(start, colon);
        const value = block.slice(block.charCodeAt(colon + 1) === 0x20 ? colon + 2 : colon + 1, lineEnd);
        if (key === 'ChanVariable' || key.startsWith('ChanVariable(')) {
          const equals = value.indexOf('=');
          if (equals > 0) message.variables[value.slice(0, equals)] = value.slice(equals + 1);
        } else if (!(key in message.headers)) {
          message.headers[key] = value;
        }
      }
    }
    start = end + 1;
  }
  return message;
}

/** Serialises an action: `Key: Value` lines in CRLF and the blank line. Values must not carry CR or LF. */
export function formatAction(fields: Record<string, string>): string {
  let text = '';
  for (const [key, value] of Object.entries(fields)) {
    if (/[\r\n]/.test(value)) throw new SourceProtocolError(`AMI header ${key} would carry a line break`);
    text += `${key}: ${value}\r\n`;
  }
  return `${text}\r\n`;
}
