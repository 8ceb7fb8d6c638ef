import { createHash } from 'node:crypto';
import type { AgentStatus } from '../../events/catalogue.js';
import {
  ASTERISK_CDR_DISPOSITION,
  ASTERISK_COMPLETE_REASON,
  ASTERISK_DEVICE_STATUS,
  ASTERISK_EVENTS,
} from '../mappings.js';
import { compact, nonNegativeInt, type SourceEvent } from '../source.js';
import type { ChannelVariableNames } from '../freeswitch/map.js';
import type { AmiMessage } from './parser.js';

export interface AsteriskMappingOptions {
  variables: ChannelVariableNames;
  /** Asterisk cannot tell which way a queued call went; the operator does. */
  direction: 'inbound' | 'outbound';
  /** IANA zone of the Asterisk server's clock: cdr_manager writes local times without an offset. */
  timeZone: string;
}

/** What the hub learned about a call (keyed by its Linkedid) for the CDR that ends it. */
interface CallFacts {
  callId: string;
  campaign: string | undefined;
  contactRef: string | undefined;
  agent: string | undefined;
  abandoned: boolean;
}

const MAX_REMEMBERED_CALLS = 50_000;

/**
 * Maps Asterisk AMI events (app_queue, cdr_manager) to catalogue events. Both field vocabularies
 * are read: `MemberName`/`Interface` (Asterisk 12+) and `Name`/`Location` (1.4–1.8). The call id
 * is the dialler's variable when the channel carries it (manager.conf `channelvars`), else the
 * root call's `Linkedid` (else `Uniqueid` on versions without it).
 *
 * Ids hash the event's own identity (event name, channel ids, member, Asterisk's `Timestamp`),
 * so two hubs hearing the same Asterisk agree. Without `timestampevents = yes` in manager.conf,
 * events have no Timestamp and the id falls back to the connection's sequence number.
 */
export class AsteriskMapper {
  private readonly calls = new Map<string, CallFacts>();
  /** Uniqueid → Linkedid, for the Cdr event (which carries only UniqueID). */
  private readonly roots = new Map<string, string>();
  private readonly agentStatus = new Map<string, AgentStatus>();

  constructor(private readonly options: AsteriskMappingOptions) {}

  /** `fallbackKey` identifies the event when Asterisk sends no Timestamp (connection id + message number). */
  map(message: AmiMessage, fallbackKey: string): SourceEvent[] {
    const headers = message.headers;
    const name = headers.Event ?? '';
    const type = ASTERISK_EVENTS[name];
    if (!type) return [];
    const time = amiTime(headers.Timestamp);
    const id = eventId(headers, fallbackKey);
    switch (type) {
      case 'call.queued': {
        const data = this.callFields(message, true);
        if (!data.queue) return [];
        return [{ id, type, time, data: compact({ ...data, position: positive(headers.Position), waiting: nonNegativeInt(headers.Count), queued_at: time }) }];
      }
      case 'call.offered':
      case 'call.connected': {
        const agent = memberName(headers);
        if (!agent) return [];
        const data = this.callFields(message, false);
        if (type === 'call.connected') this.noteAgent(message, agent);
        return [{ id, type, time, data: { ...data, agent } }];
      }
      case 'call.ended': {
        const agent = memberName(headers);
        return [{
          id,
          type,
          time,
          data: compact({
            ...this.callFields(message, false),
            agent,
            ended_at: time,
            wait_s: nonNegativeInt(headers.HoldTime),
            talk_s: nonNegativeInt(headers.TalkTime),
            ended_by: ASTERISK_COMPLETE_REASON[headers.Reason ?? ''],
          }),
        }];
      }
      case 'call.abandoned': {
        const root = rootOf(headers);
        const facts = root ? this.calls.get(root) : undefined;
        if (facts) facts.abandoned = true;
        return [{
          id,
          type,
          time,
          data: compact({
            ...this.callFields(message, false),
            reason: 'caller_hungup',
            reason_raw: name,
            abandoned_at: time,
            wait_s: nonNegativeInt(headers.HoldTime),
            position: positive(headers.Position),
            original_position: positive(headers.OriginalPosition),
          }),
        }];
      }
      case 'agent.status_changed': {
        const agent = memberName(headers);
        const status = memberStatus(headers);
        // QueueMemberStatus repeats on every device state change; only a different status is a change.
        if (!agent || !status || this.agentStatus.get(agent) === status) return [];
        this.agentStatus.set(agent, status);
        return [{ id, type, time, data: compact({ agent, status, status_raw: rawStatus(headers), reason: headers.PausedReason ?? headers.Reason }) }];
      }
      case 'cdr.created':
        return this.cdr(message, id, time);
      default:
        return [];
    }
  }

  /** The status the hub last published per agent (resync compares against it). */
  get statuses(): Map<string, AgentStatus> {
    return this.agentStatus;
  }

  private callFields(message: AmiMessage, joining: boolean): Record<string, unknown> {
    const headers = message.headers;
    const root = rootOf(headers);
    const uniqueId = headers.Uniqueid ?? headers.UniqueID;
    if (root && uniqueId) this.rememberRoot(uniqueId, root);
    const variable = (key: string | undefined) => (key ? message.variables[key] || undefined : undefined);
    let facts = root ? this.calls.get(root) : undefined;
    if (!facts || joining) {
      facts = {
        callId: variable(this.options.variables.callId) ?? facts?.callId ?? root ?? uniqueId ?? '',
        campaign: variable(this.options.variables.campaign) ?? facts?.campaign,
        contactRef: variable(this.options.variables.contactRef) ?? facts?.contactRef,
        agent: facts?.agent,
        abandoned: false,
      };
      if (root) this.rememberCall(root, facts);
    }
    const callerNumber = headers.CallerIDNum ?? headers.CallerID;
    const number = this.options.direction === 'outbound' ? (headers.Exten ?? callerNumber) : callerNumber;
    return compact({
      call_id: variable(this.options.variables.callId) ?? facts.callId,
      queue: headers.Queue,
      campaign: variable(this.options.variables.campaign) ?? facts.campaign,
      number: validNumber(number),
      caller_id: validNumber(callerNumber),
      caller_name: validName(headers.CallerIDName),
      contact_ref: variable(this.options.variables.contactRef) ?? facts.contactRef,
    });
  }

  private noteAgent(message: AmiMessage, agent: string): void {
    const root = rootOf(message.headers);
    const facts = root ? this.calls.get(root) : undefined;
    if (facts) facts.agent = agent;
  }

  /** cdr_manager's Cdr: one per leg Asterisk records. Its UniqueID leads to the call the queue events described. */
  private cdr(message: AmiMessage, id: string, time: string): SourceEvent[] {
    const headers = message.headers;
    const uniqueId = headers.UniqueID ?? headers.Uniqueid;
    const root = (uniqueId && this.roots.get(uniqueId)) ?? uniqueId;
    const facts = root ? this.calls.get(root) : undefined;
    const outbound = this.options.direction === 'outbound';
    const number = validNumber(outbound ? headers.Destination : headers.Source);
    if (!uniqueId || !number) return [];
    const raw = headers.Disposition ?? '';
    let disposition = ASTERISK_CDR_DISPOSITION[raw] ?? 'failed';
    const billable = nonNegativeInt(headers.BillableSeconds);
    if (disposition === 'answered' && facts?.abandoned && !facts.agent) disposition = 'abandoned';
    const data = compact({
      call_id: facts?.callId ?? message.variables[this.options.variables.callId] ?? root,
      number,
      direction: this.options.direction,
      dialed_at: this.localTime(headers.StartTime) ?? time,
      disposition,
      agent: facts?.agent ?? null,
      campaign: facts?.campaign,
      contact_ref: facts?.contactRef,
      dial_number: validNumber(outbound ? headers.Source : headers.Destination),
      answered_at: this.localTime(headers.AnswerTime),
      ended_at: this.localTime(headers.EndTime),
      duration_s: nonNegativeInt(headers.Duration),
      talk_s: billable,
    });
    if (root) this.calls.delete(root);
    if (uniqueId) this.roots.delete(uniqueId);
    return [{ id, type: 'cdr.created', time, data }];
  }

  /** `2026-11-21 10:00:00` in the Asterisk server's zone → ISO UTC. */
  private localTime(value: string | undefined): string | undefined {
    const match = value?.match(/^(\d{4})-(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})$/);
    if (!match) return undefined;
    const [, y, mo, d, h, mi, s] = match.map(Number) as number[];
    const asUtc = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
    const offset = zoneOffsetMs(this.options.timeZone, asUtc);
    return new Date(asUtc - offset).toISOString();
  }

  private rememberCall(root: string, facts: CallFacts): void {
    this.calls.delete(root);
    this.calls.set(root, facts);
    if (this.calls.size > MAX_REMEMBERED_CALLS) this.calls.delete(this.calls.keys().next().value as string);
  }

  private rememberRoot(uniqueId: string, root: string): void {
    if (this.roots.get(uniqueId) === root) return;
    this.roots.set(uniqueId, root);
    if (this.roots.size > MAX_REMEMBERED_CALLS) this.roots.delete(this.roots.keys().next().value as string);
  }
}

/** The queue member's name in either vocabulary: MemberName (12+), Name or AgentName (1.4–1.8), else its interface. */
export function memberName(headers: Record<string, string>): string | undefined {
  return headers.MemberName || headers.Name || headers.AgentName || headers.Interface || headers.Location || headers.AgentCalled || undefined;
}

/** A member's status: paused members are not_ready; otherwise their device state. */
export function memberStatus(headers: Record<string, string>): AgentStatus | undefined {
  if (headers.Paused === '1') return 'not_ready';
  if (headers.Event === 'QueueMemberPause' || headers.Event === 'QueueMemberPaused') {
    if (headers.Paused === '0') return headers.Status ? ASTERISK_DEVICE_STATUS[headers.Status] : 'available';
  }
  return headers.Status === undefined ? undefined : ASTERISK_DEVICE_STATUS[headers.Status];
}

function rawStatus(headers: Record<string, string>): string {
  return headers.Paused === '1' ? 'paused' : `device_state_${headers.Status ?? 'unknown'}`;
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

/** `Timestamp: 1764669600.123456` (timestampevents = yes) → ISO; now without it. */
function amiTime(timestamp: string | undefined): string {
  const seconds = Number(timestamp);
  return Number.isFinite(seconds) && seconds > 0 ? new Date(Math.round(seconds * 1000)).toISOString() : new Date().toISOString();
}

function positive(value: string | undefined): number | undefined {
  const number = nonNegativeInt(value);
  return number !== undefined && number > 0 ? number : undefined;
}

/** Asterisk writes `<unknown>` for a missing caller id. */
function validNumber(value: string | undefined): string | undefined {
  if (!value || value === '<unknown>' || value.length > 64) return undefined;
  return value;
}

function validName(value: string | undefined): string | undefined {
  if (!value || value === '<unknown>') return undefined;
  return value.slice(0, 256);
}

/** The offset of an IANA zone from UTC at an instant, in ms (Intl, no zone database of our own). */
function zoneOffsetMs(timeZone: string, at: number): number {
  if (timeZone === 'UTC') return 0;
  const parts = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((part) => part.type === type)?.value);
  const local = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
  return local - Math.floor(at / 1000) * 1000;
}
