import { createHash, randomUUID } from 'node:crypto';
import { SourceAuthError, SourceProtocolError } from '../../errors.js';
import type { SourceResyncedData } from '../../events/catalogue.js';
import type { ReadinessReport } from '../../server/health.js';
import type { ChannelVariableNames } from '../freeswitch/map.js';
import { CallRecords, MAX_CALLS_IN_PROGRESS, MAX_OPEN_AFTER_HANGUP_MS } from '../call-record.js';
import { PbxSource, type SourceConnectionConfig, type SourceDependencies, type SourceEvent } from '../source.js';
import { AGENT_COMPLETE_LEG } from './calls.js';
import { AsteriskMapper, memberName, queueWrapupsFromConfig } from './map.js';
import { AmiParser, formatAction, type AmiMessage } from './parser.js';

export interface AsteriskSourceConfig extends SourceConnectionConfig {
  username: string;
  secret: string;
  /** `md5`: the secret never crosses the wire (Challenge, then Key = md5(challenge + secret)). */
  authType: 'md5' | 'plain';
  /** `Events:` of the Login action: `on`, or a class list such as `agent,call,cdr`. */
  events: string;
  direction: 'inbound' | 'outbound';
  timeZone: string;
  variables: ChannelVariableNames;
  cdr: 'per_call' | 'per_leg';
  cdrSettleMs: number;
}

type ResyncReason = SourceResyncedData['reason'];

interface PendingAction {
  /** Events of an event-list answer (QueueStatus), in order, up to its …Complete event. */
  events: AmiMessage[];
  response: AmiMessage | undefined;
  list: boolean;
  resolve: (result: { response: AmiMessage; events: AmiMessage[] }) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

const ACTION_TIMEOUT_MS = 15_000;
/** How long a served call whose channels all hung up waits for its late AgentComplete. */
const AGENT_COMPLETE_WAIT_MS = 10_000;
/** Asterisk versions before 1.6 send no FullyBooted: the resync waits for it at most this long. */
const BOOT_WAIT_MS = 10_000;

function bootSignal(): { done: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const done = new Promise<void>((settle) => (resolve = settle));
  return { done, resolve };
}

/**
 * Asterisk as a source: an AMI client (TCP 5038, docs/sources.md).
 *
 * Session: the banner line; `Login` (MD5 challenge or plain) with `Events`; then `QueueStatus`
 * resyncs agents. Every action carries an ActionID; its Response and, for event lists, the events
 * echoing that ActionID are routed back to it while other events interleave freely.
 */
export class AsteriskSource extends PbxSource {
  private readonly mapper: AsteriskMapper;
  private parser: AmiParser | undefined;
  private readonly actions = new Map<string, PendingAction>();
  private actionCounter = 0;
  private connectionId = randomUUID();
  private messageCounter = 0;
  private resyncing: Promise<void> | undefined;
  /** The channels of calls in progress: each call's records are taken once, after its last channel and `cdrSettleMs`. */
  private readonly calls: CallRecords<string>;
  /** CoreStatus's startup time: a different one after a reconnect means Asterisk restarted. */
  private startedAt: string | undefined;
  private missingTimestamps = false;
  /** Set while every call is being written at once: nothing waits for a late AgentComplete then. */
  private finalFlush = false;
  /** Resolved by this session's `FullyBooted`: before it, app_queue may not be loaded yet (Asterisk starting). */
  private booted: { done: Promise<void>; resolve: () => void } = bootSignal();

  constructor(
    protected override readonly config: AsteriskSourceConfig,
    deps: SourceDependencies,
  ) {
    super('asterisk', config, deps);
    this.calls = new CallRecords<string>({
      settleMs: config.cdrSettleMs,
      maxCalls: MAX_CALLS_IN_PROGRESS,
      maxOpenMs: MAX_OPEN_AFTER_HANGUP_MS,
      flush: (root) => {
        if (!this.finalFlush && this.mapper.awaitComplete(root)) {
          this.calls.legStarted(root, AGENT_COMPLETE_LEG);
          setTimeout(() => this.calls.legEnded(root, AGENT_COMPLETE_LEG, AGENT_COMPLETE_LEG), AGENT_COMPLETE_WAIT_MS).unref();
          return;
        }
        const records = this.mapper.takeRecords(root);
        if (records.length > 0) this.emit(records);
      },
    });
    this.mapper = new AsteriskMapper({ variables: config.variables, direction: config.direction, timeZone: config.timeZone, cdr: config.cdr }, this.calls);
  }

  /** Calls still settling are over as far as this source can tell: their records are written now. */
  override async close(): Promise<void> {
    this.flushEveryCall();
    await super.close();
  }



  /** Writes every call's record now, with what was heard of it (closing, or Asterisk restarted). */
  private flushEveryCall(): void {
    this.finalFlush = true;
    this.calls.flushAll();
    this.finalFlush = false;
  }

  override readiness(): ReadinessReport {
    const report = super.readiness();
    if (this.missingTimestamps) {
      const warning = `source ${this.name}: Asterisk sends no Timestamp (set timestampevents = yes in manager.conf); event times are arrival times`;
      report.warning = report.warning ? `${report.warning}; ${warning}` : warning;
    }
    return report;
  }

  protected onConnected(): void {
    this.connectionId = randomUUID();
    this.messageCounter = 0;
    this.parser = new AmiParser(() => this.login());
    this.booted = bootSignal();
  }

  protected onDisconnected(): void {
    const error = new Error('connection closed');
    for (const [id, action] of this.actions) {
      clearTimeout(action.timer);
      action.reject(error);
      this.actions.delete(id);
    }
  }

  protected onData(chunk: Buffer): void {
    this.parser?.push(chunk, (message) => this.onMessage(message));
  }

  protected appendFailed(): void {
    this.requestResync('reconnected');
  }

  private onMessage(message: AmiMessage): void {
    this.messageCounter += 1;
    const actionId = message.headers.ActionID;
    const action = actionId === undefined ? undefined : this.actions.get(actionId);
    if (message.headers.Response !== undefined) {
      if (action) this.onResponse(actionId!, action, message);
      return;
    }
    if (message.headers.Event === undefined) {
      this.deps.metrics.parseErrors.inc({ source: this.name });
      this.logger.warn({ headers: Object.keys(message.headers).slice(0, 10) }, 'skipped an AMI message with neither Response nor Event');
      return;
    }
    if (message.headers.Event === 'FullyBooted') this.booted.resolve();
    if (action) {
      action.events.push(message);
      if (message.headers.EventList === 'Complete' || message.headers.Event.endsWith('Complete')) this.finish(actionId!, action);
      return;
    }
    this.onEvent(message);
  }

  private onResponse(actionId: string, action: PendingAction, message: AmiMessage): void {
    action.response = message;
    const listFollows = message.headers.EventList === 'start' || /will follow/i.test(message.headers.Message ?? '');
    if (message.headers.Response === 'Error' || !action.list || !listFollows) this.finish(actionId, action);
  }

  private finish(actionId: string, action: PendingAction): void {
    clearTimeout(action.timer);
    this.actions.delete(actionId);
    action.resolve({ response: action.response ?? { headers: {}, variables: {}, output: [] }, events: action.events });
  }

  private onEvent(message: AmiMessage): void {
    this.noteEvent();
    // FullyBooted is sent before timestampevents applies; any other event tells.
    if (message.headers.Timestamp === undefined && message.headers.Event !== 'FullyBooted' && !this.missingTimestamps) {
      this.missingTimestamps = true;
      this.logger.warn('Asterisk sends no Timestamp header (timestampevents = yes is not set in manager.conf): event times are the hub\'s arrival times');
    }
    let mapped: SourceEvent[];
    try {
      mapped = this.mapper.map(message, `${this.connectionId}:${this.messageCounter}`);
    } catch (error) {
      this.deps.metrics.parseErrors.inc({ source: this.name });
      this.logger.warn({ reason: (error as Error).message, event: message.headers.Event }, 'skipped an AMI event that could not be mapped');
      return;
    }
    if (mapped.length === 0) {
      this.deps.metrics.eventsIgnored.inc({ source: this.name });
      return;
    }
    this.deps.metrics.eventsMapped.inc({ source: this.name });
    this.emit(mapped);
    // Asterisk says nothing when a member's wrap-up time is over: its end is published then.
    for (const wrapup of this.mapper.takeWrapups()) this.emitAt(wrapup.untilMs, () => this.mapper.endWrapup(wrapup));
  }

  private login(): void {
    const run = async () => {
      const login: Record<string, string> = { Username: this.config.username, Events: this.config.events };
      if (this.config.authType === 'md5') {
        const { response } = await this.action({ Action: 'Challenge', AuthType: 'MD5' });
        const challenge = response.headers.Challenge;
        if (response.headers.Response !== 'Success' || !challenge) {
          throw new SourceAuthError(`MD5 challenge refused: ${response.headers.Message ?? 'no challenge'}`);
        }
        login.AuthType = 'MD5';
        login.Key = createHash('md5').update(challenge + this.config.secret).digest('hex');
      } else {
        login.Secret = this.config.secret;
      }
      const { response } = await this.action({ Action: 'Login', ...login });
      if (response.headers.Response !== 'Success') {
        throw new SourceAuthError(
          `authentication failed (${response.headers.Message ?? 'no message'}): check the source's username and secret against manager.conf`,
        );
      }
      const { resumed } = this.handshakeDone();
      const restarted = await this.pbxRestarted();
      if (resumed) {
        this.gap(`ami:${this.name}:gap:${this.connectionId}`, {
          reason: restarted ? 'restarted' : 'disconnected',
          ...(this.disconnectedAt ? { disconnected_ms: Date.now() - this.disconnectedAt } : {}),
        });
      }
      this.requestResync(restarted ? 'restarted' : resumed ? 'reconnected' : 'connected');
    };
    run().catch((error: Error) => {
      if (error instanceof SourceAuthError || error instanceof SourceProtocolError) this.fail(error.message, error);
    });
  }

  private requestResync(reason: ResyncReason): void {
    if (this.resyncing) return;
    this.resyncing = this.resync(reason)
      .catch((error: Error) => this.logger.warn({ err: error }, 'Asterisk resync failed; the next reconnect retries it'))
      .finally(() => (this.resyncing = undefined));
  }

  /**
   * Whether Asterisk restarted since the last session (CoreStatus's startup time changed): its
   * calls in progress are then gone, and recorded with what was heard of them.
   */
  private async pbxRestarted(): Promise<boolean> {
    const { response } = await this.action({ Action: 'CoreStatus' });
    const startedAt = [response.headers.CoreStartupDate, response.headers.CoreStartupTime].filter(Boolean).join(' ') || undefined;
    const previous = this.startedAt;
    this.startedAt = startedAt ?? previous;
    if (!previous || !startedAt || previous === startedAt) return false;
    this.logger.warn({ previous, startedAt, calls: this.calls.size }, 'Asterisk restarted: its calls in progress are gone, and recorded as they were last heard of');
    this.mapper.endEveryCall();
    this.flushEveryCall();
    return true;
  }

  /**
   * QueueStatus: QueueParams per queue, QueueMember per member and queue, QueueEntry per waiting
   * caller. Members are corrected where they differ from what was published; callers waiting
   * that the hub did not know are reported as queued (their calls found by CoreShowChannels).
   */
  private async resync(reason: ResyncReason): Promise<void> {
    // Asterisk accepts manager logins while it is still loading modules: QueueStatus would be unknown.
    let waited: NodeJS.Timeout | undefined;
    await Promise.race([this.booted.done, new Promise<void>((resolve) => (waited = setTimeout(resolve, BOOT_WAIT_MS)))]);
    clearTimeout(waited);
    this.deps.metrics.resyncs.inc({ source: this.name });
    await this.readQueueWrapups();
    const askedAt = this.mapper.memberClock;
    const { response, events } = await this.action({ Action: 'QueueStatus' }, true);
    if (response.headers.Response !== 'Success') throw new Error(`QueueStatus refused: ${response.headers.Message ?? ''}`);
    const queues = new Set<string>();
    const members: Record<string, string>[] = [];
    const entries: Record<string, string>[] = [];
    for (const { headers } of events) {
      if (headers.Event === 'QueueParams' && headers.Queue) queues.add(headers.Queue);
      else if (headers.Event === 'QueueMember') members.push(headers);
      else if (headers.Event === 'QueueEntry') entries.push(headers);
    }
    const linkedIds = new Map<string, string>();
    if (entries.length > 0) {
      const channels = await this.action({ Action: 'CoreShowChannels' }, true);
      for (const { headers } of channels.events) if (headers.Uniqueid && headers.Linkedid) linkedIds.set(headers.Uniqueid, headers.Linkedid);
    }
    const nowMs = Date.now();
    const now = new Date(nowMs).toISOString();
    const corrections = this.mapper.membersSnapshot(members, askedAt, now, `${this.config.host}|${this.startedAt ?? ''}`);
    const waiting = this.mapper.waitingCallers(entries, linkedIds, nowMs);
    const agents = new Set(members.map(memberName)).size;
    await this.emitInBatches([
      ...corrections,
      ...waiting,
      {
        id: `ami:${this.name}:resync:${this.connectionId}:${nowMs}`,
        type: 'source.resynced',
        time: now,
        data: { source: this.name, kind: 'asterisk', reason, agents, queues: queues.size, waiting: entries.length, corrected: corrections.length },
      },
    ]);
    this.logger.info({ reason, agents, queues: queues.size, waiting: entries.length, corrected: corrections.length, reported: waiting.length }, 'Asterisk resynced');
  }

  /**
   * Each queue's wrapuptime, which no AMI event carries: read from queues.conf (GetConfig, the
   * `config` read class). Without it (refused, or realtime queues) only members' own Wrapuptime
   * gives after-call work.
   */
  private async readQueueWrapups(): Promise<void> {
    const { response } = await this.action({ Action: 'GetConfig', Filename: 'queues.conf' });
    if (response.headers.Response !== 'Success') {
      this.logger.info({ reason: response.headers.Message }, 'Asterisk: queues.conf not readable over AMI (GetConfig); after-call work comes only from members\' own Wrapuptime');
      return;
    }
    this.mapper.setQueueWrapups(queueWrapupsFromConfig(response.headers));
  }

  private action(fields: Record<string, string>, list = false): Promise<{ response: AmiMessage; events: AmiMessage[] }> {
    if (!this.socket) return Promise.reject(new Error('not connected'));
    const actionId = `sb-${++this.actionCounter}`;
    const text = formatAction({ ...fields, ActionID: actionId });
    const socket = this.socket;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.actions.delete(actionId);
        reject(new SourceProtocolError(`no answer to ${fields.Action} within ${ACTION_TIMEOUT_MS} ms`));
        socket.destroy();
      }, ACTION_TIMEOUT_MS);
      this.actions.set(actionId, { events: [], response: undefined, list, resolve, reject, timer });
      this.write(text);
    });
  }
}
