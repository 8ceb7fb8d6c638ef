import { setImmediate as nextTurn } from 'node:timers/promises';
import { SourceAuthError, SourceProtocolError } from '../../errors.js';
import type { SourceResyncedData } from '../../events/catalogue.js';
import { FREESWITCH_AGENT_STATUS } from '../mappings.js';
import { CallRecords, MAX_CALLS_IN_PROGRESS, MAX_OPEN_AFTER_HANGUP_MS } from '../call-record.js';
import { nonNegativeInt, PbxSource, RESYNC_BATCH_EVENTS, type SourceConnectionConfig, type SourceDependencies, type SourceEvent } from '../source.js';
import { callRecord, FreeswitchMapper, NotAnEventError, type CallLegUpdate, type CdrMode, type ChannelVariableNames, type FreeswitchLeg } from './map.js';
import { decodeEvent, EslParser, type EslFrame } from './parser.js';

export interface FreeswitchSourceConfig extends SourceConnectionConfig {
  /** The Event Socket password (event_socket.conf.xml; FreeSWITCH's default is ClueCon). */
  password: string;
  /** `json` (values as they are) or `plain` (URL-encoded values). */
  format: 'json' | 'plain';
  /** Event names to subscribe to, as the `event` command takes them. */
  events: readonly string[];
  /** Treat a jump in Event-Sequence as lost events (only meaningful when subscribed to ALL events). */
  detectSequenceGaps: boolean;
  variables: ChannelVariableNames;
  cdr: CdrMode;
  /** Quiet time after a call's last leg ended before its record is written (`cdr: per_call`). */
  cdrSettleMs: number;
}

type ResyncReason = SourceResyncedData['reason'];

interface PendingCommand {
  resolve: (frame: EslFrame) => void;
  reject: (error: Error) => void;
}

/** An answer not received in this time means the connection is broken. */
const COMMAND_TIMEOUT_MS = 15_000;
/** Agent rows compared between two turns of the event loop, so that intake is never held long. */
const RESYNC_ROWS_PER_TURN = 5000;

/**
 * FreeSWITCH as a source: an inbound Event Socket client (mod_event_socket, docs/sources.md).
 *
 * Session: the server asks for `auth/request`; `auth <password>`; `event json <events>`; then
 * `api global_getvar core_uuid` tells whether FreeSWITCH restarted while we were away, and a
 * resync (`callcenter_config agent list`, `queue list`, `queue list members <queue>`) corrects
 * agents whose status changed meanwhile. Commands are answered in order (command/reply or
 * api/response), events interleave freely with the answers.
 */
export class FreeswitchSource extends PbxSource {
  private readonly mapper: FreeswitchMapper;
  /** The legs of calls in progress (`cdr: per_call`): each call's record is written once, after its last leg. */
  private readonly calls: CallRecords<FreeswitchLeg> | undefined;
  private parser = new EslParser();
  private pending: PendingCommand[] = [];
  private authenticated = false;
  private coreUuid: string | undefined;
  private lastSequence: number | undefined;
  private resyncing: Promise<void> | undefined;
  private resyncAgain: ResyncReason | undefined;
  /** Agents whose status an event changed while a resync runs: its older list must not undo that. */
  private changedDuringResync: Set<string> | undefined;
  private warnedInvalidUtf8 = false;

  constructor(
    protected override readonly config: FreeswitchSourceConfig,
    deps: SourceDependencies,
  ) {
    super('freeswitch', config, deps);
    this.mapper = new FreeswitchMapper(config.variables, config.cdr);
    if (config.cdr === 'per_call') {
      this.calls = new CallRecords<FreeswitchLeg>({
        settleMs: config.cdrSettleMs,
        maxCalls: MAX_CALLS_IN_PROGRESS,
        maxOpenMs: MAX_OPEN_AFTER_HANGUP_MS,
        flush: (root, legs) => {
          const record = callRecord(root, legs);
          if (record) this.emit([record]);
        },
      });
    }
  }

  override async close(): Promise<void> {
    // Calls still settling are over as far as this source can tell: their records are written now.
    this.calls?.flushAll();
    await super.close();
  }

  protected onConnected(): void {
    this.parser = new EslParser();
    this.authenticated = false;
  }

  protected onDisconnected(): void {
    const error = new Error('connection closed');
    for (const command of this.pending.splice(0)) command.reject(error);
  }

  protected onData(chunk: Buffer): void {
    this.parser.push(chunk, (frame) => this.onFrame(frame));
  }

  protected appendFailed(): void {
    this.requestResync('sequence_gap');
  }

  private onFrame(frame: EslFrame): void {
    const type = frame.headers['Content-Type'];
    if (frame.invalidUtf8) {
      // As intake refuses such bytes: counted, logged once, never stored with replacement characters.
      this.deps.metrics.parseErrors.inc({ source: this.name });
      if (!this.warnedInvalidUtf8) this.logger.warn({ contentType: type ?? null }, 'skipped an Event Socket frame that is not valid UTF-8 (logged once per source)');
      this.warnedInvalidUtf8 = true;
      // An answer still answers its command, so that the next answers stay matched; it reads as empty.
      if (type === 'command/reply' || type === 'api/response') this.pending.shift()?.resolve(frame);
      return;
    }
    switch (type) {
      case 'auth/request':
        this.sendAuth();
        return;
      case 'command/reply':
      case 'api/response':
        this.pending.shift()?.resolve(frame);
        return;
      case 'text/event-json':
      case 'text/event-plain':
        this.onEvent(frame);
        return;
      case 'text/disconnect-notice':
        // Before authentication the notice only follows a refused password, which the auth reply reports.
        if (!this.authenticated) return;
        this.fail(`FreeSWITCH disconnected us: ${(frame.body ?? '').split('\n')[0] || 'disconnect notice'}`);
        return;
      case 'text/rude-rejection':
        this.fail(`FreeSWITCH refused the connection (check the acl in event_socket.conf.xml): ${(frame.body ?? '').trim()}`);
        return;
      case 'log/data':
        return;
      default:
        this.deps.metrics.parseErrors.inc({ source: this.name });
        this.logger.warn({ contentType: type ?? null }, 'skipped an Event Socket frame of unknown type');
    }
  }

  private sendAuth(): void {
    const reply = this.command(`auth ${this.config.password}`);
    reply
      .then(async (frame) => {
        const text = frame.headers['Reply-Text'] ?? '';
        if (!text.startsWith('+OK')) {
          throw new SourceAuthError(`authentication failed (${text || 'no reply text'}): check the source's password against event_socket.conf.xml`);
        }
        this.authenticated = true;
        const subscribed = await this.command(`event ${this.config.format} ${this.config.events.join(' ')}`);
        const subscribeText = subscribed.headers['Reply-Text'] ?? '';
        if (!subscribeText.startsWith('+OK')) throw new SourceProtocolError(`the event subscription was refused: ${subscribeText}`);
        const core = (await this.api('global_getvar core_uuid')).trim();
        const { resumed } = this.handshakeDone();
        this.onSession(core, resumed);
      })
      .catch((error: Error) => {
        if (this.authenticated || error instanceof SourceAuthError || error instanceof SourceProtocolError) this.fail(error.message, error);
      });
  }

  /** A session started: find out what may have been missed and resync. */
  private onSession(core: string, resumed: boolean): void {
    const known = this.coreUuid;
    const validCore = /^[0-9a-f-]{8,64}$/i.test(core) ? core : undefined;
    if (validCore && known && validCore !== known) {
      this.pbxRestarted(validCore);
      return;
    }
    if (validCore) this.coreUuid = validCore;
    if (resumed) {
      this.fsGap({ reason: 'disconnected', ...(this.disconnectedAt ? { disconnected_ms: Date.now() - this.disconnectedAt } : {}) });
      this.requestResync('reconnected');
    } else {
      this.requestResync('connected');
    }
  }

  private onEvent(frame: EslFrame): void {
    this.noteEvent();
    let event: Record<string, string>;
    let mapped: SourceEvent[];
    let leg: CallLegUpdate | undefined;
    try {
      event = decodeEvent(frame);
      this.trackSequence(event);
      mapped = this.mapper.map(event);
      leg = this.calls ? this.mapper.callLeg(event) : undefined;
    } catch (error) {
      if (!(error instanceof SyntaxError || error instanceof URIError || error instanceof NotAnEventError)) throw error;
      this.deps.metrics.parseErrors.inc({ source: this.name });
      this.logger.warn({ reason: error.message }, 'skipped a malformed FreeSWITCH event');
      return;
    }
    if (mapped.length === 0 && !leg) {
      this.deps.metrics.eventsIgnored.inc({ source: this.name });
      return;
    }
    this.deps.metrics.eventsMapped.inc({ source: this.name });
    this.publish(mapped);
    // mod_callcenter says nothing when an agent's wrap-up-time is over: its end is published then.
    const core = this.coreUuid ?? 'unknown';
    // Published, not only emitted: a resync compares with what the source remembers having said.
    for (const wrapup of this.mapper.takeWrapups()) this.emitAt(wrapup.untilMs, () => this.mapper.endWrapup(wrapup, core), (events) => this.publish(events));
    if (leg?.ended) this.calls?.legEnded(leg.root, leg.legId, leg.ended);
    else if (leg) this.calls?.legStarted(leg.root, leg.legId);
  }

  /**
   * Emits what the source itself publishes (mapped events, and the wrap-up ends it times) after
   * remembering each agent status among them: the one way into that memory besides a resync's
   * corrections. A resync compares FreeSWITCH's agent list with it, so a status published without
   * it (a wrap-up's end) would read as a change and be written again.
   */
  private publish(events: SourceEvent[]): void {
    for (const item of events) {
      if (item.type !== 'agent.status_changed') continue;
      this.rememberStatus(item.data.agent as string, item.data.status as never);
      this.changedDuringResync?.add(item.data.agent as string);
    }
    if (events.length > 0) this.emit(events);
  }

  /** Core-UUID changes when FreeSWITCH restarts; Event-Sequence counts every event it fires. */
  private trackSequence(event: Record<string, string>): void {
    const core = event['Core-UUID'];
    const sequence = Number(event['Event-Sequence']);
    if (!core || !Number.isSafeInteger(sequence)) return;
    if (this.coreUuid && core !== this.coreUuid) {
      this.pbxRestarted(core);
    } else if (this.config.detectSequenceGaps && this.lastSequence !== undefined && sequence > this.lastSequence + 1) {
      this.fsGap({ reason: 'sequence_gap', missed: sequence - this.lastSequence - 1, last_seq: this.lastSequence, next_seq: sequence });
      this.requestResync('sequence_gap');
    }
    this.coreUuid = core;
    if (this.lastSequence === undefined || sequence > this.lastSequence) this.lastSequence = sequence;
  }

  private pbxRestarted(core: string): void {
    this.logger.warn({ previous: this.coreUuid, core }, 'FreeSWITCH restarted (new Core-UUID)');
    this.coreUuid = core;
    this.lastSequence = undefined;
    this.mapper.reset();
    // The old process's calls are gone with it: what their legs said is all there will be.
    this.calls?.flushAll();
    this.fsGap({ reason: 'restarted' });
    this.requestResync('restarted');
  }

  /** A `source.gap` (PbxSource.gap), with the Core-UUID it concerns; the resync that follows closes it. */
  private fsGap(details: Record<string, unknown>): void {
    this.gap(`fs:${this.name}:gap:${this.coreUuid ?? 'unknown'}:${details.reason as string}:${details.next_seq ?? Date.now()}`, {
      ...details,
      ...(this.coreUuid ? { core_uuid: this.coreUuid } : {}),
    });
  }

  /** One resync at a time; a request during one runs another right after it (the state may have moved). */
  private requestResync(reason: ResyncReason): void {
    if (this.resyncing) {
      this.resyncAgain = reason;
      return;
    }
    this.resyncing = this.resync(reason)
      .catch((error: Error) => this.logger.warn({ err: error }, 'FreeSWITCH resync failed; the next reconnect retries it'))
      .finally(() => {
        this.resyncing = undefined;
        const again = this.resyncAgain;
        this.resyncAgain = undefined;
        if (again && this.socket) this.requestResync(again);
      });
  }

  /**
   * Fetches the lists, then streams the corrections in batches of RESYNC_BATCH_EVENTS, each
   * appended before the next is built: a 150k-agent list costs its text and one batch, never
   * every correction at once, and intake's appends interleave with the batches.
   */
  private async resync(reason: ResyncReason): Promise<void> {
    this.deps.metrics.resyncs.inc({ source: this.name });
    this.changedDuringResync = new Set();
    try {
      const agentList = await this.api('callcenter_config agent list');
      const queues = parsePipeTable(await this.api('callcenter_config queue list'));
      const now = new Date().toISOString();
      const core = this.coreUuid ?? 'unknown';
      let waiting = 0;
      const waitingCallers: SourceEvent[] = [];
      for (const queue of queues) {
        if (!queue.name || /\s/.test(queue.name)) continue;
        for (const member of pipeTableRows(await this.api(`callcenter_config queue list members ${queue.name}`))) {
          if (member.state !== 'Waiting' && member.state !== 'Trying') continue;
          waiting += 1;
          const queued = this.mapper.waitingMember(core, member, now);
          if (queued) waitingCallers.push(queued);
        }
      }
      // Callers first: corrections stream in batches after them.
      await this.emitInBatches(waitingCallers);
      let agents = 0;
      let corrected = 0;
      let batch: SourceEvent[] = [];
      for (const agent of pipeTableRows(agentList)) {
        agents += 1;
        if (agent.name) this.mapper.noteAgent(agent.name, agent.status, nonNegativeInt(agent.wrap_up_time));
        if (agents % RESYNC_ROWS_PER_TURN === 0) await nextTurn();
        const status = agent.status === undefined ? undefined : FREESWITCH_AGENT_STATUS[agent.status];
        if (!agent.name || !status || this.knownStatusOf(agent.name) === status || this.changedDuringResync.has(agent.name)) continue;
        // `Available` during a wrap-up the source began is the wrap-up, not a change (it ends on its own time).
        if (status === 'available' && this.mapper.inWrapup(agent.name)) continue;
        this.rememberStatus(agent.name, status);
        corrected += 1;
        // Keyed on the time FreeSWITCH recorded the change: the same correction made twice (or by two hubs) is one event.
        batch.push({
          id: `fs:${core}:agent:${agent.name}:${agent.last_status_change ?? status}`.slice(0, 128),
          type: 'agent.status_changed',
          time: epochOrNow(agent.last_status_change, now),
          data: { agent: agent.name, status, status_raw: agent.status },
        });
        if (batch.length >= RESYNC_BATCH_EVENTS) {
          await this.emitSettled(batch);
          batch = [];
        }
      }
      batch.push({
        id: `fs:${this.name}:resync:${core}:${Date.now()}`,
        type: 'source.resynced',
        time: now,
        data: { source: this.name, kind: 'freeswitch', reason, agents, queues: queues.length, waiting, corrected, ...(this.coreUuid ? { core_uuid: this.coreUuid } : {}) },
      });
      await this.emitSettled(batch);
      this.logger.info({ reason, agents, queues: queues.length, waiting, corrected }, 'FreeSWITCH resynced');
    } finally {
      this.changedDuringResync = undefined;
    }
  }

  /** `api <command>`: the api/response body (FreeSWITCH's answer text, `-ERR …` on failure). */
  private async api(command: string): Promise<string> {
    const frame = await this.command(`api ${command}`);
    return frame.body ?? '';
  }

  private command(text: string): Promise<EslFrame> {
    const socket = this.socket;
    if (!socket) return Promise.reject(new Error('not connected'));
    return new Promise<EslFrame>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new SourceProtocolError(`no answer to a command within ${COMMAND_TIMEOUT_MS} ms`));
        socket.destroy();
      }, COMMAND_TIMEOUT_MS);
      this.pending.push({
        resolve: (frame) => {
          clearTimeout(timer);
          resolve(frame);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.write(`${text}\n\n`);
    });
  }
}

/**
 * mod_callcenter's list output: a `|`-separated header row, one row per item, then `+OK`. An
 * error answer (`-ERR …`, mod_callcenter not loaded) is an empty list.
 */
export function parsePipeTable(text: string): Record<string, string>[] {
  return [...pipeTableRows(text)];
}

/** The rows of a mod_callcenter list one at a time, without splitting the whole answer up front. */
export function* pipeTableRows(text: string): Generator<Record<string, string>> {
  let columns: string[] | undefined;
  for (let start = 0; start < text.length; ) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    const line = text.charCodeAt(end - 1) === 0x0d ? text.slice(start, end - 1) : text.slice(start, end);
    start = end + 1;
    if (line.length === 0) continue;
    if (line.startsWith('-ERR') || (columns && line === '+OK')) return;
    if (!columns) {
      columns = line.split('|');
      continue;
    }
    const cells = line.split('|');
    const row: Record<string, string> = {};
    columns.forEach((column, index) => {
      if (cells[index] !== undefined) row[column] = cells[index]!;
    });
    yield row;
  }
}

function epochOrNow(value: string | undefined, now: string): string {
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(seconds * 1000).toISOString() : now;
}
