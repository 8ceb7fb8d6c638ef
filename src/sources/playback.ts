import { once } from 'node:events';
import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import { AmiParser } from './asterisk/parser.js';
import type { RecordedFrame, RecordedLine, Recording } from './recording.js';

/*
 * `switchboard pbx play` (docs/sources.md): serves a recording (src/sources/recording.ts) as the
 * PBX it came from, to a hub whose source points here. Each connection the hub makes gets the
 * next recorded connection. The login is accepted whatever the credentials (the recording holds
 * none). What the PBX sent is replayed in its recorded order and spacing (or at once), except
 * that an answer waits for the hub to ask its question: the hub's action or command is matched
 * to the first recorded one of the same name not yet matched, and on AMI the answer carries the
 * hub's new ActionID. A question the recording cannot answer gets an error answer.
 */

/** How long an answer waits for the hub to ask its question before it is skipped. */
const QUESTION_WAIT_MS = 10_000;
const NOT_RECORDED = 'not in the recording';

export type PlaybackSpeed = number | 'max';

export interface PlayerOptions {
  port: number;
  host?: string;
  /** 1: the recorded spacing; 2: twice as fast; `max`: no waiting but for the hub's questions. */
  speed: PlaybackSpeed;
  logger: Logger;
}

/** One step of a recorded connection, in order. */
type Step =
  | { kind: 'send'; atMs: number; frame: RecordedFrame; answers: number | undefined }
  | { kind: 'login'; atMs: number }
  | { kind: 'close'; atMs: number };

interface Script {
  connection: number;
  steps: Step[];
  /** The questions the hub asked in the recording, by matching key, in order. */
  questions: string[];
}

export class SessionPlayer {
  private readonly scripts: Script[];
  private next = 0;
  private readonly sockets = new Set<Socket>();
  private played = 0;
  private closing = false;
  private readonly donePlaying: Promise<void>;
  private markDone!: () => void;

  private constructor(
    private readonly recording: Recording,
    private readonly options: PlayerOptions,
    private readonly server: Server,
  ) {
    this.scripts = scriptsOf(recording);
    this.donePlaying = new Promise((resolve) => (this.markDone = resolve));
    if (this.scripts.length === 0) this.markDone();
  }

  static async start(recording: Recording, options: PlayerOptions): Promise<SessionPlayer> {
    const server = createServer();
    const player = new SessionPlayer(recording, options, server);
    server.on('connection', (socket) => player.serve(socket));
    server.listen(options.port, options.host ?? '127.0.0.1');
    try {
      await once(server, 'listening');
    } catch (error) {
      throw new ConfigError(`--port ${options.port}: cannot listen (${(error as Error).message})`, { cause: error });
    }
    return player;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  /** Recorded connections in the file. */
  get connections(): number {
    return this.scripts.length;
  }

  /** Resolves once every recorded connection has been played to its end. */
  finished(): Promise<void> {
    return this.donePlaying;
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    const script = this.scripts[this.next];
    if (!script || this.closing) {
      this.options.logger.warn({ connections: this.scripts.length }, 'the hub connected again, but every recorded connection has been played; closing it');
      socket.destroy();
      return;
    }
    this.next += 1;
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    const session = new PlayedConnection(socket, script, this.recording.header.kind, this.options);
    this.options.logger.info({ connection: script.connection }, 'the hub connected: playing a recorded connection');
    void session.play().then((complete) => {
      const details = { connection: script.connection, frames: session.sent };
      if (complete) this.options.logger.info(details, 'recorded connection played');
      else this.options.logger.warn(details, 'the hub closed the connection before its recording was played through');
      this.played += 1;
      if (this.played === this.scripts.length) this.markDone();
    });
    socket.once('close', () => {
      this.sockets.delete(socket);
      session.stop();
    });
  }
}

/** Splits the recording into its connections and turns each into steps. */
function scriptsOf(recording: Recording): Script[] {
  const byConnection = new Map<number, RecordedLine[]>();
  for (const line of recording.lines) {
    const lines = byConnection.get(line.connection) ?? [];
    lines.push(line);
    byConnection.set(line.connection, lines);
  }
  return [...byConnection].map(([connection, lines]) => scriptOf(connection, lines, recording.header.kind));
}

function scriptOf(connection: number, lines: RecordedLine[], kind: Recording['header']['kind']): Script {
  const steps: Step[] = [];
  const questions: string[] = [];
  const amiQuestionById = new Map<string, number>();
  let eslAnswered = 0;
  for (const line of lines) {
    const atMs = Date.parse(line.at);
    if (line.out) {
      const key = kind === 'asterisk' ? amiQuestionKey(line.out.headers?.Action) : eslQuestionKey(line.out.command ?? '');
      const actionId = line.out.headers?.ActionID;
      if (actionId !== undefined) amiQuestionById.set(actionId, questions.length);
      questions.push(key);
    } else if (line.in) {
      let answers: number | undefined;
      if (kind === 'asterisk') {
        const actionId = line.in.headers?.ActionID;
        answers = actionId === undefined ? undefined : amiQuestionById.get(actionId);
      } else if (isEslAnswer(line.in)) {
        answers = eslAnswered < questions.length ? eslAnswered : undefined;
        eslAnswered += 1;
      }
      steps.push({ kind: 'send', atMs, frame: line.in, answers });
    } else if (line.login) {
      steps.push({ kind: 'login', atMs });
    } else if (line.closed) {
      steps.push({ kind: 'close', atMs });
    }
  }
  return { connection, steps, questions };
}

const amiQuestionKey = (action: string | undefined) => (action ?? '').toLowerCase();
/** `event json …` subscribes whatever the list; other commands must match word for word. */
const eslQuestionKey = (command: string) => (/^event\s/i.test(command) ? 'event' : command.trim());
const isEslAnswer = (frame: RecordedFrame) => ['command/reply', 'api/response'].includes(frame.headers?.['Content-Type'] ?? '');

/** One hub connection being served a recorded connection. */
class PlayedConnection {
  sent = 0;
  private loggedIn = false;
  private stopped = false;
  /** Recorded question index → the hub's ActionID for it (AMI), or `''` once asked (ESL). */
  private readonly asked = new Map<number, string>();
  private readonly wakers = new Set<() => void>();
  private eslText = '';
  private readonly amiParser = new AmiParser(() => undefined);

  constructor(
    private readonly socket: Socket,
    private readonly script: Script,
    private readonly kind: Recording['header']['kind'],
    private readonly options: PlayerOptions,
  ) {
    // The hub's actions are read with the source's own AMI parser, which wants a banner line first.
    if (kind === 'asterisk') this.amiParser.push(Buffer.from('Asterisk Call Manager/hub\r\n'), () => undefined);
    socket.on('data', (chunk: Buffer) => {
      try {
        if (kind === 'asterisk') this.amiParser.push(chunk, (action) => this.onAmiAction(action.headers));
        else this.onEslBytes(chunk);
      } catch (error) {
        this.options.logger.warn({ err: error }, 'the hub sent something that is not its protocol; closing the connection');
        socket.destroy();
      }
    });
  }

  stop(): void {
    this.stopped = true;
    this.wake();
  }

  /** Plays the recorded connection; false when the hub's connection closed first. */
  async play(): Promise<boolean> {
    let anchorWall = Date.now();
    let anchorAt = this.script.steps[0]?.atMs ?? 0;
    for (const step of this.script.steps) {
      if (this.stopped) return false;
      if (this.options.speed !== 'max') {
        const due = anchorWall + (step.atMs - anchorAt) / this.options.speed;
        if (due > Date.now()) await this.waitUntil(() => false, due - Date.now());
      }
      if (step.kind === 'login') {
        if (!this.loggedIn) await this.waitUntil(() => this.loggedIn, Infinity);
        anchorWall = Date.now();
        anchorAt = step.atMs;
        continue;
      }
      if (step.kind === 'close') {
        this.socket.end();
        return true;
      }
      let actionId: string | undefined;
      if (step.answers !== undefined) {
        const question = step.answers;
        if (!this.asked.has(question)) {
          await this.waitUntil(() => this.asked.has(question), QUESTION_WAIT_MS);
          anchorWall = Date.now();
          anchorAt = step.atMs;
        }
        if (this.stopped) return false;
        if (!this.asked.has(question)) {
          this.options.logger.warn({ question: this.script.questions[question] }, 'the hub did not ask a recorded question; its answer is skipped');
          continue;
        }
        actionId = this.asked.get(question);
      }
      this.socket.write(this.kind === 'asterisk' ? amiText(step.frame, actionId) : eslText(step.frame));
      this.sent += 1;
    }
    return !this.stopped;
  }

  /** Resolves when `check` holds, the connection stopped, or `timeoutMs` passed. */
  private async waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check() && !this.stopped && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const timer = Number.isFinite(timeoutMs) ? setTimeout(done, deadline - Date.now()) : undefined;
        const wakers = this.wakers;
        function done() {
          clearTimeout(timer);
          wakers.delete(done);
          resolve();
        }
        this.wakers.add(done);
      });
    }
  }

  private wake(): void {
    for (const wake of [...this.wakers]) wake();
  }

  /** The first recorded question with this key that the hub has not asked yet. */
  private match(key: string): number | undefined {
    const index = this.script.questions.findIndex((question, at) => question === key && !this.asked.has(at));
    return index < 0 ? undefined : index;
  }

  private onAmiAction(action: Record<string, string>): void {
    const name = amiQuestionKey(action.Action);
    const actionId = action.ActionID;
    const reply = (fields: Record<string, string>) =>
      this.socket.write(amiText({ headers: { ...fields, ...(actionId === undefined ? {} : { ActionID: actionId }) } }, undefined));
    if (name === 'challenge') {
      reply({ Response: 'Success', Challenge: String(100_000_000 + Math.floor(Math.random() * 900_000_000)) });
    } else if (name === 'login') {
      reply({ Response: 'Success', Message: 'Authentication accepted' });
      this.loggedIn = true;
    } else if (name === 'logoff') {
      reply({ Response: 'Goodbye', Message: 'Thanks for all the fish.' });
      this.socket.end();
    } else {
      const question = this.match(name);
      if (question === undefined) {
        this.options.logger.warn({ action: action.Action }, 'the hub sent an action the recording does not answer');
        reply({ Response: 'Error', Message: NOT_RECORDED });
        return;
      }
      this.asked.set(question, actionId ?? '');
    }
    this.wake();
  }

  private onEslBytes(chunk: Buffer): void {
    this.eslText += chunk.toString('utf8');
    for (let end = this.eslText.indexOf('\n\n'); end >= 0; end = this.eslText.indexOf('\n\n')) {
      const command = this.eslText.slice(0, end).replace(/\r/g, '').trim();
      this.eslText = this.eslText.slice(end + 2);
      if (command.length > 0) this.onEslCommand(command);
    }
  }

  private onEslCommand(command: string): void {
    const reply = (text: string) => this.socket.write(eslText({ headers: { 'Content-Type': 'command/reply', 'Reply-Text': text } }));
    if (/^auth\s/i.test(command)) {
      reply('+OK accepted');
      this.loggedIn = true;
    } else if (/^exit$/i.test(command)) {
      reply('+OK bye');
      this.socket.end();
    } else {
      const question = this.match(eslQuestionKey(command));
      if (question === undefined) {
        this.options.logger.warn({ command: command.split(' ').slice(0, 3).join(' ') }, 'the hub sent a command the recording does not answer');
        if (/^api\s/i.test(command)) this.socket.write(eslText({ headers: { 'Content-Type': 'api/response' }, body: `-ERR ${NOT_RECORDED}\n` }));
        else reply(`-ERR ${NOT_RECORDED}`);
        return;
      }
      this.asked.set(question, '');
    }
    this.wake();
  }
}

/** An AMI message as Asterisk writes it: CRLF lines and a blank line (the banner: one line). */
function amiText(frame: RecordedFrame, actionId: string | undefined): string {
  if (frame.banner !== undefined) return `${frame.banner}\r\n`;
  const lines: string[] = [];
  for (const [key, value] of Object.entries(frame.headers ?? {})) lines.push(`${key}: ${key === 'ActionID' && actionId !== undefined ? actionId : value}`);
  for (const [name, value] of Object.entries(frame.variables ?? {})) lines.push(`ChanVariable: ${name}=${value}`);
  lines.push(...(frame.output ?? []));
  return `${lines.join('\r\n')}\r\n\r\n`;
}

/** An Event Socket frame: LF header lines, a blank line, and the body its Content-Length counts. */
function eslText(frame: RecordedFrame): string {
  const headers = { ...frame.headers };
  if (frame.body === undefined) delete headers['Content-Length'];
  else headers['Content-Length'] = String(Buffer.byteLength(frame.body));
  const head = Object.entries(headers).map(([key, value]) => `${key}: ${value}\n`).join('');
  return `${head}\n${frame.body ?? ''}`;
}
