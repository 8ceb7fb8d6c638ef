import { createHash } from 'node:crypto';
import { zoneOffsetMs } from '../../core/zoned-time.js';
import type { AgentStatus } from '../../events/catalogue.js';
import {
  ASTERISK_CDR_DISPOSITION,
  ASTERISK_COMPLETE_REASON,
  ASTERISK_DEVICE_STATUS,
  ASTERISK_EVENTS,
} from '../mappings.js';
import { compact, nonNegativeInt, rememberRecent, type SourceEvent, type WrapupEnd } from '../source.js';
import type { ChannelVariableNames } from '../freeswitch/map.js';
import type { LegTracker } from '../call-record.js';
import { CallAssembler, callDisposition, known, type CallLegs } from './calls.js';
import type { AmiMessage } from './parser.js';

export interface AsteriskMappingOptions {
  variables: ChannelVariableNames;
  /** Asterisk cannot tell which way a queued call went; the operator does. */
  direction: 'inbound' | 'outbound';
  /** IANA zone of the Asterisk server's clock: cdr_manager writes local times without an offset. */
  timeZone: string;
  /** `per_call`: one merged record per call (Linkedid); `per_leg`: one per cdr_manager `Cdr`. */
  cdr: 'per_call' | 'per_leg';
}

/** What the hub last published for a queue member, and what it knows now. */
interface Membership {
  /** Queue → paused in it. */
  queues: Map<string, boolean>;
  /** The member's device state (AST_DEVICE_* code); an unpause without one keeps it. */
  device: string | undefined;
  reason: string | undefined;
  /** `status|queue,queue` of the last agent.status_changed: only a change is published. */
  published: string | undefined;
  /** `memberClock` at its last change: a snapshot taken before it does not know it. */
  changedAt: number;
  /** The member's own Wrapuptime (s; 0: the queue's applies), from its events. */
  wrapupS: number;
  /** After a call, app_queue offers the member nothing until then (its wrap-up time): after-call work. */
  wrapupUntilMs: number | undefined;
}


const MAX_MEMBERS = 100_000;

/**
 * Maps Asterisk AMI events (app_queue, cdr_manager, channel events, CEL) to catalogue events.
 * Both field vocabularies are read: `MemberName`/`Interface` (Asterisk 12+) and `Name`/`Location`
 * (1.4–1.8). The call id is the dialler's variable when the channel carries it (manager.conf
 * `channelvars`), else the root call's `Linkedid` (else `Uniqueid` on versions without it).
 *
 * Call records: the legs of a call are gathered by `CallAssembler`, and the source takes the
 * call's records with `takeRecords` once the call is over (docs/sources.md, "One record per call
 * (Asterisk)"): one merged record with `per_call`, one per `Cdr` with `per_leg`.
 *
 * Agent events carry the member's queues: the mapper keeps each member's queues, pause and
 * device state, and publishes a change of any of them.
 *
 * Ids hash the event's own identity (event name, channel ids, member, Asterisk's `Timestamp`),
 * so two hubs hearing the same Asterisk agree. Without `timestampevents = yes` in manager.conf,
 * events have no Timestamp and the id falls back to the connection's sequence number.
 */
export class AsteriskMapper {
  private readonly calls: CallAssembler;
  private readonly members = new Map<string, Membership>();
  /**
   * `queue|member` → the call it is connected to. An AgentComplete published after the caller's
   * channel is gone carries no channel (no Linkedid): it is the member's current call.
   */
  private readonly servedBy = new Map<string, { root: string; callId: string }>();
  private memberChanges = 0;
  /** Each queue's `wrapuptime` (s), read from queues.conf by the source (GetConfig). */
  private queueWrapupS = new Map<string, number>();
  /** Wrap-ups begun since the source last took them: it publishes each one's end when it comes. */
  private wrapups: WrapupEnd[] = [];

  /** `legs` hears every channel of every call start and end, and has the records taken once a call is over. */
  constructor(
    private readonly options: AsteriskMappingOptions,
    legs: LegTracker<string>,
  ) {
    this.calls = new CallAssembler(legs);
  }

  /** `fallbackKey` identifies the event when Asterisk sends no Timestamp (connection id + message number). */
  map(message: AmiMessage, fallbackKey: string): SourceEvent[] {
    const headers = message.headers;
    const name = headers.Event ?? '';
    const timeMs = amiTimeMs(headers.Timestamp);
    switch (name) {
      case 'Newchannel':
        this.calls.channel(headers, timeMs);
        return [];
      case 'Hangup':
        this.calls.hangup(headers, timeMs);
        return [];
      case 'Hold':
      case 'Unhold':
        return this.hold(headers, timeMs, name === 'Hold', fallbackKey);
      case 'CEL':
        if (headers.EventName === 'LINKEDID_END' && headers.LinkedID) this.calls.linkedidEnd(headers.LinkedID);
        return [];
      case 'QueueCallerLeave': {
        const call = this.calls.channel(headers, timeMs);
        if (call) this.calls.left(call, timeMs);
        return [];
      }
    }
    const type = ASTERISK_EVENTS[name];
    if (!type) return [];
    const time = new Date(timeMs).toISOString();
    const id = eventId(headers, fallbackKey);
    switch (type) {
      case 'call.queued': {
        const { data, call } = this.callFields(message, timeMs);
        if (!data.queue) return [];
        if (call) this.calls.joined(call, String(data.queue), timeMs);
        return [{ id, type, time, data: compact({ ...data, position: positive(headers.Position), waiting: nonNegativeInt(headers.Count), queued_at: time }) }];
      }
      case 'call.offered': {
        const agent = memberName(headers);
        if (!agent) return [];
        return [{ id, type, time, data: { ...this.callFields(message, timeMs).data, agent } }];
      }
      case 'call.connected': {
        const agent = memberName(headers);
        if (!agent) return [];
        const { data, call } = this.callFields(message, timeMs);
        const wait = nonNegativeInt(headers.HoldTime);
        if (call) {
          this.calls.connected(call, agent, headers.Queue, timeMs, wait);
          rememberRecent(this.servedBy, `${headers.Queue}|${agent}`, { root: call.root, callId: String(data.call_id) }, MAX_MEMBERS);
        }
        return [{ id, type, time, data: compact({ ...data, agent, wait_s: wait, ring_s: nonNegativeInt(headers.RingTime) }) }];
      }
      case 'call.ended': {
        const agent = memberName(headers);
        const served = this.servedBy.get(`${headers.Queue}|${agent}`);
        this.servedBy.delete(`${headers.Queue}|${agent}`);
        const withoutChannel = rootOf(headers) === undefined && served !== undefined;
        // Without its channel, the member's current call: still gathered, or already recorded (then only its id).
        const gathered = withoutChannel && this.calls.get(served.root) !== undefined;
        const { data, call } = withoutChannel && !gathered
          ? { data: { call_id: served.callId, queue: headers.Queue }, call: undefined }
          : this.callFields(withoutChannel ? { ...message, headers: { ...headers, Linkedid: served.root, Uniqueid: served.root } } : message, timeMs);
        const talk = nonNegativeInt(headers.TalkTime);
        if (call) this.calls.completed(call, talk, headers.Reason);
        const ended: SourceEvent = {
          id,
          type,
          time,
          data: compact({
            ...data,
            agent,
            ended_at: time,
            wait_s: nonNegativeInt(headers.HoldTime),
            talk_s: talk,
            hold_s: call ? Math.round(call.holdMs / 1000) : undefined,
            ended_by: ASTERISK_COMPLETE_REASON[headers.Reason ?? ''],
          }),
        };
        return [ended, ...this.startWrapup(agent, headers.Queue, timeMs, id, time)];
      }
      case 'call.missed': {
        const agent = memberName(headers);
        if (!agent) return [];
        // AgentRingNoAnswer's RingTime is in milliseconds.
        const ringMs = nonNegativeInt(headers.RingTime);
        return [{
          id,
          type,
          time,
          data: compact({ ...this.callFields(message, timeMs).data, agent, ring_s: ringMs === undefined ? undefined : ringMs / 1000, missed_at: time, reason_raw: name }),
        }];
      }
      case 'call.abandoned': {
        const { data, call } = this.callFields(message, timeMs);
        const wait = nonNegativeInt(headers.HoldTime);
        if (call) this.calls.abandoned(call, wait);
        return [{
          id,
          type,
          time,
          data: compact({
            ...data,
            reason: 'caller_hungup',
            reason_raw: name,
            abandoned_at: time,
            wait_s: wait,
            position: positive(headers.Position),
            original_position: positive(headers.OriginalPosition),
          }),
        }];
      }
      case 'agent.status_changed':
        return this.memberEvent(headers, id, time, timeMs);
      case 'cdr.created': {
        // Kept until the call is over, per_leg included: a record never precedes its call's end events.
        const call = this.calls.cdr(headers);
        if (call && this.options.cdr === 'per_leg') call.legRecords.push(...this.legRecord(message, call, id, time));
        return [];
      }
      default:
        return [];
    }
  }

  /** Whether a call over but for its AgentComplete should wait for it (once): see CallAssembler.awaitComplete. */
  awaitComplete(root: string): boolean {
    return this.calls.awaitComplete(root);
  }

  /** The call's records, once it is over: its one merged record (`per_call`) or its legs' (`per_leg`). */
  takeRecords(root: string): SourceEvent[] {
    const call = this.calls.take(root);
    if (!call) return [];
    if (this.options.cdr === 'per_leg') return call.legRecords;
    const record = this.mergedRecord(call);
    return record ? [record] : [];
  }

  private mergedRecord(call: CallLegs): SourceEvent | undefined {
    const outbound = this.options.direction === 'outbound';
    const rootCdr = call.rootCdr;
    const caller = validNumber(call.callerNumber ?? rootCdr?.Source);
    const dialled = validNumber(call.dialled ?? rootCdr?.Destination);
    const number = outbound ? dialled : caller;
    if (!number) return undefined;
    const dialedMs = call.startedMs ?? this.localMs(call.cdrStart) ?? call.queuedMs;
    const endedMs = call.lastHangupMs ?? this.localMs(call.cdrEnd);
    if (dialedMs === undefined) return undefined;
    const connected = call.outcome === 'connected';
    const answeredMs = connected ? call.answeredMs : call.outcome === 'none' && rootCdr?.Disposition === 'ANSWERED' ? this.localMs(rootCdr.AnswerTime) : undefined;
    const seconds = (from: number | undefined, to: number | undefined) =>
      from === undefined || to === undefined ? undefined : Math.max(0, Math.round((to - from) / 1000));
    let talk: number | undefined;
    if (connected) talk = call.completeReason === undefined && call.talkS === 0 ? seconds(answeredMs, endedMs) : call.talkS;
    else if (call.outcome === 'none') talk = nonNegativeInt(rootCdr?.BillableSeconds);
    else talk = 0;
    const data = compact({
      call_id: call.callId ?? call.root,
      number,
      direction: this.options.direction,
      dialed_at: new Date(dialedMs).toISOString(),
      disposition: callDisposition(call),
      agent: connected ? (call.agent ?? null) : null,
      campaign: call.campaign,
      queue: call.queue,
      contact_ref: call.contactRef,
      dial_number: outbound ? caller : dialled,
      answered_at: answeredMs === undefined ? undefined : new Date(answeredMs).toISOString(),
      ended_at: endedMs === undefined ? undefined : new Date(endedMs).toISOString(),
      duration_s: seconds(dialedMs, endedMs),
      wait_s: call.waitS,
      talk_s: talk,
      hold_s: connected ? Math.round(call.holdMs / 1000) : undefined,
      q850_cause: call.rootCause,
    });
    return { id: `ami:cdr:${call.root}`, type: 'cdr.created', time: new Date(endedMs ?? dialedMs).toISOString(), data };
  }

  /** Asterisk restarted: every call in progress is gone, its channels ended. */
  endEveryCall(): void {
    this.calls.endEveryCall();
  }

  /** Counts member changes heard; a resync notes it before asking for the snapshot. */
  get memberClock(): number {
    return this.memberChanges;
  }

  /**
   * QueueStatus's QueueMember events: every member's queues, pause and device state when the
   * snapshot was asked for (`askedAt`, a `memberClock` reading). Returns a correction for each
   * agent whose status or queues differ from the last published, members no longer listed
   * included (they left every queue: offline), unless they changed after the question.
   */
  membersSnapshot(snapshot: Record<string, string>[], askedAt: number, time: string, salt: string): SourceEvent[] {
    const seen = new Map<string, Membership>();
    for (const headers of snapshot) {
      const agent = memberName(headers);
      if (!agent || !headers.Queue) continue;
      const previous = this.members.get(agent);
      if (previous && previous.changedAt > askedAt) continue;
      const membership = seen.get(agent) ?? {
        ...newMembership(),
        published: previous?.published,
        changedAt: askedAt,
        wrapupS: nonNegativeInt(headers.Wrapuptime) ?? previous?.wrapupS ?? 0,
        wrapupUntilMs: previous?.wrapupUntilMs,
      };
      membership.queues.set(headers.Queue, headers.Paused === '1');
      membership.device = headers.Status ?? membership.device;
      if (headers.Paused === '1') membership.reason = headers.PausedReason || membership.reason;
      seen.set(agent, membership);
    }
    for (const [agent, membership] of this.members) {
      if (!seen.has(agent) && membership.queues.size > 0 && membership.changedAt <= askedAt) seen.set(agent, { ...membership, queues: new Map() });
    }
    const corrections: SourceEvent[] = [];
    const timeMs = Date.parse(time);
    for (const [agent, membership] of seen) {
      rememberRecent(this.members, agent, membership, MAX_MEMBERS);
      const data = this.publish(agent, membership, timeMs);
      if (!data) continue;
      const identity = ['resync', salt, agent, data.status, ...(data.queues as string[])].join('|');
      corrections.push({ id: `ami:${createHash('sha256').update(identity).digest('base64url').slice(0, 32)}`, type: 'agent.status_changed', time, data });
    }
    return corrections;
  }

  /**
   * QueueStatus's QueueEntry events: callers waiting now. Each one the hub did not know is
   * reported as `call.queued`, its entry time from `Wait`, so live `waiting` counts it.
   * `linkedIds` maps channels to their call (CoreShowChannels: QueueEntry carries no Linkedid).
   */
  waitingCallers(entries: Record<string, string>[], linkedIds: ReadonlyMap<string, string>, nowMs: number): SourceEvent[] {
    const events: SourceEvent[] = [];
    for (const entry of entries) {
      const uniqueId = entry.Uniqueid;
      if (!uniqueId || !entry.Queue) continue;
      const root = linkedIds.get(uniqueId) ?? this.calls.rootOf(uniqueId) ?? uniqueId;
      const known = this.calls.get(root);
      if (known?.queue === entry.Queue && known.queuedMs !== undefined) continue;
      const queuedMs = nowMs - (nonNegativeInt(entry.Wait) ?? 0) * 1000;
      const call = this.calls.channel({ ...entry, Linkedid: root }, queuedMs);
      if (!call) continue;
      this.calls.joined(call, entry.Queue, queuedMs);
      const callerNumber = validNumber(entry.CallerIDNum);
      events.push({
        id: `ami:waiting:${root}:${entry.Queue}`.slice(0, 128),
        type: 'call.queued',
        time: new Date(nowMs).toISOString(),
        data: compact({
          call_id: call.callId ?? root,
          queue: entry.Queue,
          campaign: call.campaign,
          number: this.options.direction === 'outbound' ? undefined : callerNumber,
          caller_id: callerNumber,
          caller_name: validName(entry.CallerIDName),
          position: positive(entry.Position),
          queued_at: new Date(queuedMs).toISOString(),
        }),
      });
    }
    return events;
  }

  private callFields(message: AmiMessage, timeMs: number): { data: Record<string, unknown>; call: CallLegs | undefined } {
    const headers = message.headers;
    const call = this.calls.channel(headers, timeMs);
    const variable = (key: string | undefined) => (key ? message.variables[key] || undefined : undefined);
    const callerNumber = headers.CallerIDNum ?? headers.CallerID;
    if (call) {
      // The queue leg's caller id, should the root channel's record never come (Asterisk restarted).
      call.callerNumber ??= known(callerNumber);
      call.callId = variable(this.options.variables.callId) ?? call.callId;
      call.campaign = variable(this.options.variables.campaign) ?? call.campaign;
      call.contactRef = variable(this.options.variables.contactRef) ?? call.contactRef;
    }
    const number = this.options.direction === 'outbound' ? (headers.Exten ?? callerNumber) : callerNumber;
    const data = compact({
      call_id: call?.callId ?? call?.root ?? rootOf(headers) ?? '',
      queue: headers.Queue,
      campaign: call?.campaign,
      number: validNumber(number),
      caller_id: validNumber(callerNumber),
      caller_name: validName(headers.CallerIDName),
      contact_ref: call?.contactRef,
    });
    return { data, call };
  }

  /** A member joined, left, paused, unpaused or changed device state: publish it if what the supervisor sees changed. */
  private memberEvent(headers: Record<string, string>, id: string, time: string, timeMs: number): SourceEvent[] {
    const agent = memberName(headers);
    const queue = headers.Queue;
    if (!agent) return [];
    const membership = this.members.get(agent) ?? newMembership();
    membership.changedAt = ++this.memberChanges;
    membership.wrapupS = nonNegativeInt(headers.Wrapuptime) ?? membership.wrapupS;
    if (queue) {
      if (headers.Event === 'QueueMemberRemoved') membership.queues.delete(queue);
      else membership.queues.set(queue, headers.Paused === undefined ? (membership.queues.get(queue) ?? false) : headers.Paused === '1');
    }
    // An unpause without a device state keeps the last one known (an agent on a call stays busy).
    if (headers.Status !== undefined && ASTERISK_DEVICE_STATUS[headers.Status]) membership.device = headers.Status;
    if (headers.Paused === '1') membership.reason = headers.PausedReason || headers.Reason || membership.reason;
    rememberRecent(this.members, agent, membership, MAX_MEMBERS);
    const data = this.publish(agent, membership, timeMs);
    return data ? [{ id, type: 'agent.status_changed', time, data }] : [];
  }

  /** Each queue's wrapuptime (s), as queues.conf sets it (the source reads it with GetConfig). */
  setQueueWrapups(wrapups: ReadonlyMap<string, number>): void {
    this.queueWrapupS = new Map(wrapups);
  }

  /** The wrap-ups begun since the last call: the source publishes each one's end at its time. */
  takeWrapups(): WrapupEnd[] {
    return this.wrapups.splice(0);
  }

  /** A wrap-up's time is over: the member's status without it, unless a later call or wrap-up replaced it. */
  endWrapup({ agent, untilMs }: WrapupEnd): SourceEvent[] {
    const membership = this.members.get(agent);
    if (membership?.wrapupUntilMs !== untilMs) return [];
    membership.wrapupUntilMs = undefined;
    const data = this.publish(agent, membership, untilMs);
    const id = `ami:wrapup-end:${createHash('sha256').update(`${agent}|${untilMs}`).digest('base64url').slice(0, 32)}`;
    return data ? [{ id, type: 'agent.status_changed', time: new Date(untilMs).toISOString(), data }] : [];
  }

  /**
   * AgentComplete: app_queue now keeps the member out of calls for its wrap-up time (the
   * member's Wrapuptime, else the queue's wrapuptime), which is after-call work: published as
   * `wrapup` at once, and its end by the source when the time is over (endWrapup).
   */
  private startWrapup(agent: string | undefined, queue: string | undefined, timeMs: number, id: string, time: string): SourceEvent[] {
    const membership = agent === undefined ? undefined : this.members.get(agent);
    if (agent === undefined || !membership) return [];
    const wrapupS = membership.wrapupS || (queue === undefined ? 0 : (this.queueWrapupS.get(queue) ?? 0));
    if (wrapupS <= 0) return [];
    membership.wrapupUntilMs = timeMs + wrapupS * 1000;
    this.wrapups.push({ agent, untilMs: membership.wrapupUntilMs });
    const data = this.publish(agent, membership, timeMs);
    return data ? [{ id: `${id.slice(0, 120)}:wrapup`, type: 'agent.status_changed', time, data }] : [];
  }

  /** Hold / Unhold of a channel of a call an agent is connected to: `call.held` / `call.resumed`. */
  private hold(headers: Record<string, string>, timeMs: number, held: boolean, fallbackKey: string): SourceEvent[] {
    const call = this.calls.hold(headers, timeMs, held);
    if (!call || call.outcome !== 'connected' || call.agent === undefined) return [];
    return [{
      id: eventId(headers, fallbackKey),
      type: held ? 'call.held' : 'call.resumed',
      time: new Date(timeMs).toISOString(),
      data: compact({ call_id: call.callId ?? call.root, agent: call.agent, queue: call.queue }),
    }];
  }

  /** The agent's status and queues, if they differ from the last published (and marks them published). */
  private publish(agent: string, membership: Membership, atMs: number): Record<string, unknown> | undefined {
    const paused = [...membership.queues.values()].some(Boolean);
    let status: AgentStatus;
    if (membership.queues.size === 0) status = 'offline';
    else if (paused) status = 'not_ready';
    else if (membership.wrapupUntilMs !== undefined && atMs < membership.wrapupUntilMs) status = 'wrapup';
    else status = (membership.device !== undefined ? ASTERISK_DEVICE_STATUS[membership.device] : undefined) ?? 'available';
    const queues = [...membership.queues.keys()].sort();
    const key = `${status}|${queues.join(',')}`;
    if (membership.published === key) return undefined;
    membership.published = key;
    if (!paused) membership.reason = undefined;
    const statusRaw = membership.queues.size === 0 ? 'removed' : paused ? 'paused' : status === 'wrapup' ? 'wrapuptime' : `device_state_${membership.device ?? 'unknown'}`;
    return compact({ agent, status, status_raw: statusRaw, reason: paused ? membership.reason : undefined, queues });
  }

  /** `per_leg`: cdr_manager's Cdr as the record, one per leg Asterisk records; its call id is the call's. */
  private legRecord(message: AmiMessage, call: CallLegs, id: string, time: string): SourceEvent[] {
    const headers = message.headers;
    const outbound = this.options.direction === 'outbound';
    const number = validNumber(outbound ? headers.Destination : headers.Source);
    if (!number) return [];
    let disposition = ASTERISK_CDR_DISPOSITION[headers.Disposition ?? ''] ?? 'failed';
    if (disposition === 'answered' && call.outcome === 'abandoned') disposition = 'abandoned';
    const data = compact({
      call_id: call.callId ?? message.variables[this.options.variables.callId] ?? call.root,
      number,
      direction: this.options.direction,
      dialed_at: this.localIso(headers.StartTime) ?? time,
      disposition,
      agent: call.outcome === 'connected' ? (call.agent ?? null) : null,
      campaign: call.campaign,
      queue: call.queue,
      contact_ref: call.contactRef,
      dial_number: validNumber(outbound ? headers.Source : headers.Destination),
      answered_at: this.localIso(headers.AnswerTime),
      ended_at: this.localIso(headers.EndTime),
      duration_s: nonNegativeInt(headers.Duration),
      talk_s: nonNegativeInt(headers.BillableSeconds),
    });
    return [{ id, type: 'cdr.created', time, data }];
  }

  private localIso(value: string | undefined): string | undefined {
    const ms = this.localMs(value);
    return ms === undefined ? undefined : new Date(ms).toISOString();
  }

  /** `2026-11-21 10:00:00` in the Asterisk server's zone → ms since the epoch. */
  private localMs(value: string | undefined): number | undefined {
    const match = value?.match(/^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/);
    if (!match) return undefined;
    const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
    const asUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
    return asUtc - zoneOffsetMs(this.options.timeZone, asUtc);
  }
}

function newMembership(): Membership {
  return { queues: new Map(), device: undefined, reason: undefined, published: undefined, changedAt: 0, wrapupS: 0, wrapupUntilMs: undefined };
}

/**
 * queues.conf as GetConfig answers it (`Category-000000: sales`, `Line-000000-000003:
 * wrapuptime=5`): each queue's wrapuptime in seconds, where it sets one.
 */
export function queueWrapupsFromConfig(headers: Record<string, string>): Map<string, number> {
  const wrapups = new Map<string, number>();
  for (const [name, value] of Object.entries(headers)) {
    const line = name.match(/^Line-(\d+)-\d+$/);
    const setting = value.match(/^\s*wrapuptime\s*=\s*(\d+)\s*$/);
    const queue = line ? headers[`Category-${line[1]}`] : undefined;
    if (setting && queue && queue !== 'general') wrapups.set(queue, Number(setting[1]));
  }
  return wrapups;
}

/** The queue member's name in either vocabulary: MemberName (12+), Name or AgentName (1.4–1.8), else its interface. */
export function memberName(headers: Record<string, string>): string | undefined {
  return headers.MemberName || headers.Name || headers.AgentName || headers.Interface || headers.Location || headers.AgentCalled || undefined;
}

/** The root call: Linkedid (Asterisk 1.8+ channel blocks), else the channel's Uniqueid. */
function rootOf(headers: Record<string, string>): string | undefined {
  return headers.Linkedid || headers.Uniqueid || headers.UniqueID || undefined;
}

function eventId(headers: Record<string, string>, fallbackKey: string): string {
  const parts = [
    headers.Event,
    headers.Uniqueid ?? headers.UniqueID ?? headers.Linkedid,
    headers.DestUniqueid,
    headers.Queue,
    headers.Interface ?? headers.Location ?? headers.MemberName,
    headers.Timestamp ?? `seq:${fallbackKey}`,
  ].filter((part) => part !== undefined && part !== '');
  const id = `ami:${parts.join(':')}`;
  // Readable when it fits the catalogue's 128 characters, hashed when it does not.
  return id.length <= 128 ? id : `ami:${createHash('sha256').update(id).digest('base64url').slice(0, 32)}`;
}

/** `Timestamp: 1764669600.123456` (timestampevents = yes) → ms; the arrival time without it. */
function amiTimeMs(timestamp: string | undefined): number {
  const seconds = Number(timestamp);
  return Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : Date.now();
}

function positive(value: string | undefined): number | undefined {
  const number = nonNegativeInt(value);
  return number !== undefined && number > 0 ? number : undefined;
}

function validNumber(value: string | undefined): string | undefined {
  const number = known(value);
  return number !== undefined && number.length <= 64 ? number : undefined;
}

function validName(value: string | undefined): string | undefined {
  return known(value)?.slice(0, 256);
}
