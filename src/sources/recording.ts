import { createWriteStream, openSync, readFileSync, type WriteStream } from 'node:fs';
import { once } from 'node:events';
import { ValidationError } from '../errors.js';
import { AmiParser, type AmiMessage } from './asterisk/parser.js';
import { EslParser, type EslFrame } from './freeswitch/parser.js';
import type { SourceTap } from './source.js';

/*
 * A PBX session on file (`switchboard pbx record`, `switchboard pbx play`, docs/sources.md):
 * JSON lines. The first line says what was recorded; every other line is one thing that
 * happened on a connection, with the wall-clock time it happened:
 *
 *   {"recording":"switchboard-pbx","version":1,"kind":"asterisk","source":"pbx","startedAt":"…"}
 *   {"at":"…","connection":1,"opened":true}
 *   {"at":"…","connection":1,"in":{"banner":"Asterisk Call Manager/9.0.0"}}
 *   {"at":"…","connection":1,"login":"redacted"}
 *   {"at":"…","connection":1,"out":{"headers":{"Action":"QueueStatus","ActionID":"sb-3"}}}
 *   {"at":"…","connection":1,"in":{"headers":{"Response":"Success","ActionID":"sb-3",…}}}
 *   {"at":"…","connection":1,"in":{"headers":{"Event":"QueueCallerJoin",…},"variables":{…}}}
 *   {"at":"…","connection":1,"closed":true}
 *
 * `in` is a frame the PBX sent, as the source's own parser read it (an AMI message, or an ESL
 * frame's headers and body); `out` is what the hub sent (an AMI action, an ESL command), so a
 * player can tell answers from events. The login exchange (the MD5 challenge and key, the
 * username and secret, the ESL password) is left out and replaced by one `login` line; the
 * accounts, challenges and hashes in Asterisk's security events are masked, and so is the
 * configured secret wherever else it shows up.
 */

export const RECORDING_FORMAT = 'switchboard-pbx';
export const RECORDING_VERSION = 1;
/** What replaces a secret in a recording. */
export const REDACTED = '[redacted]';

export type PbxKind = 'asterisk' | 'freeswitch';

export interface RecordingHeader {
  recording: typeof RECORDING_FORMAT;
  version: typeof RECORDING_VERSION;
  kind: PbxKind;
  source: string;
  startedAt: string;
}

/** An AMI message (`banner` for the session's first line) or an ESL frame. */
export interface RecordedFrame {
  banner?: string;
  headers?: Record<string, string>;
  variables?: Record<string, string>;
  output?: string[];
  body?: string;
  /** An ESL command line the hub sent (`api global_getvar core_uuid`). */
  command?: string;
}

export interface RecordedLine {
  at: string;
  connection: number;
  opened?: true;
  closed?: true;
  login?: 'redacted';
  in?: RecordedFrame;
  out?: RecordedFrame;
}

export interface Recording {
  header: RecordingHeader;
  lines: RecordedLine[];
}

/** Reads and checks a recording file; a line that is not a recording's names itself in the error. */
export function readRecording(file: string): Recording {
  const text = readFileSync(file, 'utf8');
  const rows = text.split('\n').filter((row) => row.trim().length > 0);
  const parse = (row: string, index: number): unknown => {
    try {
      return JSON.parse(row);
    } catch {
      throw new ValidationError(`${file}:${index + 1}: not a JSON line`);
    }
  };
  const header = parse(rows[0] ?? '', 0) as Partial<RecordingHeader> | null;
  if (!header || header.recording !== RECORDING_FORMAT || header.version !== RECORDING_VERSION) {
    throw new ValidationError(`${file}: not a PBX recording (its first line must be {"recording":"${RECORDING_FORMAT}","version":${RECORDING_VERSION},…})`);
  }
  if (header.kind !== 'asterisk' && header.kind !== 'freeswitch') throw new ValidationError(`${file}: unknown PBX kind ${JSON.stringify(header.kind)}`);
  const lines = rows.slice(1).map((row, index) => {
    const line = parse(row, index + 1) as Partial<RecordedLine> | null;
    if (!line || typeof line.at !== 'string' || Number.isNaN(Date.parse(line.at)) || !Number.isInteger(line.connection)) {
      throw new ValidationError(`${file}:${index + 2}: a recording line needs "at" (an ISO time) and "connection" (a number)`);
    }
    return line as RecordedLine;
  });
  return { header: header as RecordingHeader, lines };
}

/** AMI actions whose exchange carries credentials (the challenge, the key or secret). */
const AMI_LOGIN_ACTIONS = new Set(['challenge', 'login']);
/**
 * What Asterisk's security events (class `security`: ChallengeSent, InvalidPassword,
 * ChallengeResponseFailed, SuccessfulAuth…) say about anyone's login: the account, the challenge,
 * the hash sent and the one expected. Nothing the hub maps.
 */
const SECURITY_CREDENTIAL_HEADERS = ['AccountID', 'Challenge', 'ReceivedChallenge', 'ReceivedHash', 'Response', 'ExpectedResponse'];
/** Stands for the banner line AmiParser expects first, when it reads what the hub sent. */
const SENT_BANNER = 'Asterisk Call Manager/sent\r\n';

/**
 * Writes a source's traffic to a recording file as it happens (a SourceTap). Frames are read
 * with the source's own parsers, from the same bytes the source reads.
 */
export class SessionRecorder implements SourceTap {
  private readonly stream: WriteStream;
  private connection = 0;
  private open = false;
  private stopped = false;
  private frames = 0;
  private readReceived: ((chunk: Buffer) => void) | undefined;
  private sentParser: AmiParser | undefined;
  /** ActionIDs of the AMI login exchange on this connection: their answers are not written. */
  private readonly loginActions = new Set<string>();
  /** The ActionID of the Login action itself: its answer is where the login line goes. */
  private loginId: string | undefined;
  private writeError: Error | undefined;
  /** The ESL `auth` command was sent and its reply is still due. */
  private authReplyDue = false;

  constructor(
    file: string,
    private readonly kind: PbxKind,
    source: string,
    /** Masked wherever they appear (the source's password or secret). */
    private readonly secrets: readonly string[],
  ) {
    // Opened here, so a path that cannot be written fails the command before it connects.
    this.stream = createWriteStream(file, { fd: openSync(file, 'w') });
    this.stream.on('error', (error) => (this.writeError ??= error));
    const header: RecordingHeader = { recording: RECORDING_FORMAT, version: RECORDING_VERSION, kind, source, startedAt: new Date().toISOString() };
    this.stream.write(`${JSON.stringify(header)}\n`);
  }

  /** Frames written so far, and connections seen. */
  get counts(): { frames: number; connections: number } {
    return { frames: this.frames, connections: this.connection };
  }

  connected(): void {
    if (this.stopped) return;
    this.connection += 1;
    this.open = true;
    this.loginActions.clear();
    this.loginId = undefined;
    this.authReplyDue = false;
    if (this.kind === 'asterisk') {
      const parser = new AmiParser((banner) => this.write({ in: { banner } }));
      this.readReceived = (chunk) => parser.push(chunk, (message) => this.amiReceived(message));
      this.sentParser = new AmiParser(() => undefined);
      this.sentParser.push(Buffer.from(SENT_BANNER), () => undefined);
    } else {
      const parser = new EslParser();
      this.readReceived = (chunk) => parser.push(chunk, (frame) => this.eslReceived(frame));
    }
    this.write({ opened: true });
  }

  received(chunk: Buffer): void {
    if (!this.open || this.stopped) return;
    this.readReceived?.(chunk);
  }

  sent(text: string): void {
    if (!this.open || this.stopped) return;
    if (this.kind === 'asterisk') this.sentParser?.push(Buffer.from(text), (action) => this.amiSent(action));
    else this.eslSent(text.replace(/\n+$/, ''));
  }

  closed(): void {
    if (!this.open || this.stopped) return;
    this.open = false;
    this.write({ closed: true });
  }

  /** Stops recording: what the source says from now on (its own shutdown) is not the PBX's session. */
  stop(): void {
    this.stopped = true;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    this.stopped = true;
    if (!this.stream.closed) {
      this.stream.end();
      await once(this.stream, 'close');
    }
    if (this.writeError) throw this.writeError;
  }

  private amiSent(action: AmiMessage): void {
    const id = action.headers.ActionID;
    const name = (action.headers.Action ?? '').toLowerCase();
    if (AMI_LOGIN_ACTIONS.has(name)) {
      if (id !== undefined) this.loginActions.add(id);
      if (name === 'login') this.loginId = id;
      return;
    }
    this.write({ out: amiFrame(action) });
  }

  private amiReceived(message: AmiMessage): void {
    const id = message.headers.ActionID;
    if (id !== undefined && this.loginActions.has(id)) {
      if (message.headers.Response !== undefined && id === this.loginId) this.write({ login: 'redacted' });
      return;
    }
    this.write({ in: amiFrame(isSecurityEvent(message) ? maskSecurityEvent(message) : message) });
  }

  private eslSent(command: string): void {
    if (/^auth\s/i.test(command)) {
      this.authReplyDue = true;
      return;
    }
    this.write({ out: { command } });
  }

  private eslReceived(frame: EslFrame): void {
    if (this.authReplyDue && frame.headers['Content-Type'] === 'command/reply') {
      this.authReplyDue = false;
      this.write({ login: 'redacted' });
      return;
    }
    this.write({ in: frame.body === undefined ? { headers: frame.headers } : { headers: frame.headers, body: frame.body } });
  }

  private write(entry: Omit<RecordedLine, 'at' | 'connection'>): void {
    if (entry.in || entry.out) this.frames += 1;
    const line: RecordedLine = { at: new Date().toISOString(), connection: this.connection, ...entry };
    this.stream.write(`${JSON.stringify(this.mask(line))}\n`);
  }

  /** Every string in the line with the configured secrets replaced. */
  private mask<T>(value: T): T {
    if (typeof value === 'string') {
      let text: string = value;
      for (const secret of this.secrets) if (secret.length > 0 && text.includes(secret)) text = text.replaceAll(secret, REDACTED);
      return text as T;
    }
    if (Array.isArray(value)) return value.map((item: unknown) => this.mask(item)) as T;
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([key, item]) => [this.mask(key), this.mask(item)])) as T;
    }
    return value;
  }
}

function isSecurityEvent(message: AmiMessage): boolean {
  return message.headers.Event !== undefined && /(^|,)security(,|$)/.test(message.headers.Privilege ?? '');
}

function maskSecurityEvent(message: AmiMessage): AmiMessage {
  const headers = { ...message.headers };
  for (const name of SECURITY_CREDENTIAL_HEADERS) if (headers[name] !== undefined) headers[name] = REDACTED;
  return { ...message, headers };
}

function amiFrame(message: AmiMessage): RecordedFrame {
  const frame: RecordedFrame = { headers: message.headers };
  if (Object.keys(message.variables).length > 0) frame.variables = message.variables;
  if (message.output.length > 0) frame.output = message.output;
  return frame;
}
