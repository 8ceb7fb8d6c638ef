import { createHash, randomUUID } from 'node:crypto';
import { SourceAuthError, SourceProtocolError } from '../../errors.js';
import type { AgentStatus, SourceResyncedData } from '../../events/catalogue.js';
import type { ChannelVariableNames } from '../freeswitch/map.js';
import { PbxSource, type SourceConnectionConfig, type SourceDependencies, type SourceEvent } from '../source.js';
import { AsteriskMapper, memberName, memberStatus } from './map.js';
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

  constructor(
    protected override readonly config: AsteriskSourceConfig,
    deps: SourceDependencies,
  ) {
    super('asterisk', config, deps);
    this.mapper = new AsteriskMapper({ variables: config.variables, direction: config.direction, timeZone: config.timeZone });
  }

  protected onConnected(): void {
    this.connectionId = randomUUID();
    this.messageCounter = 0;
    this.parser = new AmiParser(() => this.login());
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
      if (resumed && this.claimGap()) {
        this.deps.metrics.gaps.inc({ source: this.name });
        this.emit([
          {
            id: `ami:${this.name}:gap:${this.connectionId}`,
            type: 'source.gap',
            time: new Date().toISOString(),
            data: { source: this.name, kind: 'asterisk', reason: 'disconnected', ...(this.disconnectedAt ? { disconnected_ms: Date.now() - this.disconnectedAt } : {}) },
          },
        ]);
      }
      this.requestResync(resumed ? 'reconnected' : 'connected');
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

  /** QueueStatus: QueueParams per queue, QueueMember per member and queue, QueueEntry per waiting caller. */
  private async resync(reason: ResyncReason): Promise<void> {
    this.deps.metrics.resyncs.inc({ source: this.name });
    const { response, events } = await this.action({ Action: 'QueueStatus' }, true);
    if (response.headers.Response !== 'Success') throw new Error(`QueueStatus refused: ${response.headers.Message ?? ''}`);
    const queues = new Set<string>();
    const members = new Map<string, { status: AgentStatus; headers: Record<string, string> }>();
    let waiting = 0;
    for (const event of events) {
      const headers = event.headers;
      if (headers.Event === 'QueueParams' && headers.Queue) queues.add(headers.Queue);
      if (headers.Event === 'QueueEntry') waiting += 1;
      if (headers.Event !== 'QueueMember') continue;
      const agent = memberName(headers);
      const status = memberStatus({ ...headers, Event: 'QueueMember' });
      if (!agent || !status) continue;
      // A member of several queues: paused in any of them means not ready.
      const previous = members.get(agent);
      if (!previous || status === 'not_ready') members.set(agent, { status, headers });
    }
    const now = new Date().toISOString();
    const corrections: SourceEvent[] = [];
    for (const [agent, { status, headers }] of members) {
      if (this.mapper.statuses.get(agent) === status) continue;
      this.mapper.statuses.set(agent, status);
      const since = headers.LastPause && headers.LastPause !== '0' ? headers.LastPause : (headers.LoginTime ?? '');
      corrections.push({
        id: `ami:${createHash('sha256').update(['resync', this.config.host, agent, status, since].join('|')).digest('base64url').slice(0, 32)}`,
        type: 'agent.status_changed',
        time: now,
        data: { agent, status, status_raw: status === 'not_ready' ? 'paused' : `device_state_${headers.Status ?? 'unknown'}` },
      });
    }
    this.emit([
      ...corrections,
      {
        id: `ami:${this.name}:resync:${this.connectionId}:${Date.now()}`,
        type: 'source.resynced',
        time: now,
        data: { source: this.name, kind: 'asterisk', reason, agents: members.size, queues: queues.size, waiting, corrected: corrections.length },
      },
    ]);
    this.logger.info({ reason, agents: members.size, queues: queues.size, waiting, corrected: corrections.length }, 'Asterisk resynced');
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
