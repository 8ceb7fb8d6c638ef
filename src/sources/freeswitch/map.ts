import type { CdrDisposition } from '../../events/catalogue.js';
import {
  FREESWITCH_AGENT_STATUS,
  FREESWITCH_CANCEL_REASON,
  FREESWITCH_CC_ACTIONS,
  FREESWITCH_QUEUE_END,
  HANGUP_DISPOSITION,
  Q850_BY_NAME,
  UNANSWERED_DISPOSITION_BY_Q850,
} from '../mappings.js';
import { compact, epochSecondsToIso, nonNegativeInt, type SourceEvent } from '../source.js';

/** Channel variables that carry the dialler's own identifiers (Newfies-Dialer sets callrequest_id and campaign_id). */
export interface ChannelVariableNames {
  callId: string;
  campaign: string;
  contactRef?: string | undefined;
}

/** What the member-queue-start of a call said about it; agent-offering carries no channel data. */
interface QueuedCall {
  callId: string;
  campaign: string | undefined;
  number: string | undefined;
  contactRef: string | undefined;
  queuedAt: string | undefined;
}

/** Calls remembered between member-queue-start and member-queue-end (bounded: oldest forgotten first). */
const MAX_REMEMBERED_CALLS = 50_000;

export type FreeswitchEvent = Record<string, string>;

/** The event is not FreeSWITCH's (no Core-UUID / Event-Sequence): counted as a parse error. */
export class NotAnEventError extends Error {}

/**
 * Maps FreeSWITCH events (mod_callcenter `CUSTOM callcenter::info`, CHANNEL_HANGUP_COMPLETE) to
 * catalogue events. The tables are in ../mappings.ts; docs/sources.md explains each row.
 *
 * Ids are `fs:<Core-UUID>:<Event-Sequence>`: the same event re-sent (or heard by two hubs) has
 * the same id and is deduplicated by the log. The two events that end a served call
 * (bridge-agent-end, then member-queue-end with CC-Cause Terminated) share the id
 * `fs:<Core-UUID>:ended:<CC-Member-UUID>`, so a call ends once.
 */
export class FreeswitchMapper {
  private readonly calls = new Map<string, QueuedCall>();

  constructor(private readonly variables: ChannelVariableNames) {}

  map(event: FreeswitchEvent): SourceEvent[] {
    const core = event['Core-UUID'];
    const sequence = event['Event-Sequence'];
    if (!core || !sequence || !/^\d+$/.test(sequence)) throw new NotAnEventError('event without Core-UUID and Event-Sequence');
    const id = `fs:${core}:${sequence}`;
    const time = eventTime(event);
    const name = event['Event-Name'];
    if (name === 'CHANNEL_HANGUP_COMPLETE') return this.cdr(event, id, time);
    if (name !== 'CUSTOM' || event['Event-Subclass'] !== 'callcenter::info') return [];

    const action = event['CC-Action'] ?? '';
    const type = action === 'member-queue-end' ? FREESWITCH_QUEUE_END[event['CC-Cause'] ?? ''] : FREESWITCH_CC_ACTIONS[action];
    switch (type) {
      case 'agent.status_changed': {
        const raw = event['CC-Agent-Status'];
        const status = raw === undefined ? undefined : FREESWITCH_AGENT_STATUS[raw];
        if (!status || !event['CC-Agent']) return [];
        return [{ id, type, time, data: { agent: event['CC-Agent'], status, status_raw: raw } }];
      }
      case 'call.queued':
        return [{ id, type, time, data: this.queued(event, time) }];
      case 'call.offered':
      case 'call.connected':
        if (!event['CC-Agent']) return [];
        return [{ id, type, time, data: { ...this.callFields(event), agent: event['CC-Agent'] } }];
      case 'call.ended':
        return [{ id: `fs:${core}:ended:${event['CC-Member-UUID'] ?? sequence}`, type, time, data: this.ended(event, action) }];
      case 'call.abandoned':
        return [{ id, type, time, data: this.abandoned(event, time) }];
      default:
        return [];
    }
  }

  /** Forgets remembered calls (a new Core-UUID: the PBX restarted and its calls are gone). */
  reset(): void {
    this.calls.clear();
  }

  private queued(event: FreeswitchEvent, time: string): Record<string, unknown> {
    const sessionUuid = event['CC-Member-Session-UUID'] ?? event['Unique-ID'];
    const outbound = (event['Call-Direction'] ?? event.variable_direction) === 'outbound';
    const call: QueuedCall = {
      callId: this.variable(event, this.variables.callId) ?? sessionUuid ?? event['CC-Member-UUID'] ?? '',
      campaign: this.variable(event, this.variables.campaign),
      contactRef: this.variables.contactRef ? this.variable(event, this.variables.contactRef) : undefined,
      // The member is the customer's leg: dialled out to them, or calling in from them.
      number: outbound ? event['Caller-Destination-Number'] : event['Caller-Caller-ID-Number'],
      queuedAt: epochSecondsToIso(event.variable_cc_queue_joined_epoch) ?? time,
    };
    if (sessionUuid) this.remember(sessionUuid, call);
    return compact({ ...this.callFields(event), queued_at: call.queuedAt });
  }

  private ended(event: FreeswitchEvent, action: string): Record<string, unknown> {
    const joined = nonNegativeInt(event['CC-Member-Joined-Time']);
    const answered = nonNegativeInt(event['CC-Agent-Answered-Time']);
    const ended = nonNegativeInt(event['CC-Bridge-Terminated-Time'] ?? event['CC-Member-Leaving-Time']);
    const data = compact({
      ...this.callFields(event),
      agent: event['CC-Agent'],
      answered_at: epochSecondsToIso(event['CC-Agent-Answered-Time']),
      ended_at: epochSecondsToIso(event['CC-Bridge-Terminated-Time'] ?? event['CC-Member-Leaving-Time']),
      wait_s: joined && answered && answered >= joined ? answered - joined : undefined,
      talk_s: answered && ended && ended >= answered ? ended - answered : undefined,
      cause: event['CC-Hangup-Cause'],
      // bridge-agent-end carries the agent's leg: a BYE received on it means the agent hung up.
      ended_by: action === 'bridge-agent-end' ? endedBy(event.variable_sip_hangup_disposition) : undefined,
    });
    if (action === 'member-queue-end') this.forget(event);
    return data;
  }

  private abandoned(event: FreeswitchEvent, time: string): Record<string, unknown> {
    const raw = event['CC-Cancel-Reason'];
    const joined = nonNegativeInt(event['CC-Member-Joined-Time']);
    const leaving = nonNegativeInt(event['CC-Member-Leaving-Time']);
    const data = compact({
      ...this.callFields(event),
      reason: (raw && FREESWITCH_CANCEL_REASON[raw]) ?? 'other',
      reason_raw: raw,
      abandoned_at: epochSecondsToIso(event['CC-Member-Leaving-Time']) ?? time,
      wait_s: joined && leaving && leaving >= joined ? leaving - joined : undefined,
    });
    this.forget(event);
    return data;
  }

  /** The fields every call event shares; the dialler's identifiers from the event, else from member-queue-start. */
  private callFields(event: FreeswitchEvent): Record<string, unknown> {
    const sessionUuid = event['CC-Member-Session-UUID'];
    const known = sessionUuid ? this.calls.get(sessionUuid) : undefined;
    return compact({
      call_id: this.variable(event, this.variables.callId) ?? known?.callId ?? sessionUuid ?? event['CC-Member-UUID'],
      queue: event['CC-Queue'],
      campaign: this.variable(event, this.variables.campaign) ?? known?.campaign,
      number: known?.number,
      caller_id: event['CC-Member-CID-Number'],
      caller_name: event['CC-Member-CID-Name'],
      contact_ref: (this.variables.contactRef ? this.variable(event, this.variables.contactRef) : undefined) ?? known?.contactRef,
      member_uuid: event['CC-Member-UUID'],
      member_session_uuid: sessionUuid,
      queued_at: known?.queuedAt,
    });
  }

  /**
   * CHANNEL_HANGUP_COMPLETE → one CDR per customer leg: a queue member (`cc_side` member or a
   * `cc_queue`), or a dialler call (its call-id variable is set) even if it never reached a queue,
   * so every number tried has its CDR. Agent legs and other calls are ignored.
   */
  private cdr(event: FreeswitchEvent, id: string, time: string): SourceEvent[] {
    const variable = (name: string) => this.variable(event, name);
    const side = variable('cc_side');
    const dialledCallId = variable(this.variables.callId);
    if (side === 'agent') return [];
    if (side !== 'member' && variable('cc_queue') === undefined && dialledCallId === undefined) return [];

    const outbound = (event['Call-Direction'] ?? variable('direction')) === 'outbound';
    const number = outbound
      ? (event['Caller-Destination-Number'] ?? variable('destination_number'))
      : (event['Caller-Caller-ID-Number'] ?? variable('caller_id_number'));
    const dialNumber = outbound ? event['Caller-Caller-ID-Number'] : event['Caller-Destination-Number'];
    const uniqueId = event['Unique-ID'] ?? variable('uuid');
    if (!number || !uniqueId) return [];

    const q850 = nonNegativeInt(variable('hangup_cause_q850')) ?? Q850_BY_NAME[event['Hangup-Cause'] ?? variable('hangup_cause') ?? ''];
    const sipStatus = nonNegativeInt(variable('sip_term_status'));
    const billsec = nonNegativeInt(variable('billsec'));
    const agent = variable('cc_agent');
    const data = compact({
      call_id: dialledCallId ?? uniqueId,
      number,
      direction: outbound ? 'outbound' : 'inbound',
      dialed_at: epochSecondsToIso(variable('start_epoch')) ?? time,
      disposition: deriveDisposition({
        billsec,
        q850,
        hangupDisposition: variable('sip_hangup_disposition'),
        abandonedInQueue: variable('cc_cause') === 'Cancel',
        agent,
        machine: /^(machine|fax)$/i.test(variable('amd_status') ?? variable('amd_result') ?? ''),
      }),
      agent: agent ?? null,
      campaign: variable(this.variables.campaign),
      contact_ref: this.variables.contactRef ? variable(this.variables.contactRef) : undefined,
      dial_number: dialNumber,
      answered_at: epochSecondsToIso(variable('answer_epoch')),
      ended_at: epochSecondsToIso(variable('end_epoch')),
      duration_s: nonNegativeInt(variable('duration')),
      talk_s: billsec,
      hold_s: nonNegativeInt(variable('hold_accum_seconds')),
      q850_cause: q850,
      sip_code: sipStatus !== undefined && sipStatus >= 100 && sipStatus <= 699 ? sipStatus : undefined,
    });
    return [{ id, type: 'cdr.created', time, data }];
  }

  private variable(event: FreeswitchEvent, name: string): string | undefined {
    const value = event[`variable_${name}`];
    return value === undefined || value === '' ? undefined : value;
  }

  private remember(sessionUuid: string, call: QueuedCall): void {
    this.calls.delete(sessionUuid);
    this.calls.set(sessionUuid, call);
    if (this.calls.size > MAX_REMEMBERED_CALLS) this.calls.delete(this.calls.keys().next().value as string);
  }

  private forget(event: FreeswitchEvent): void {
    const sessionUuid = event['CC-Member-Session-UUID'];
    if (sessionUuid) this.calls.delete(sessionUuid);
  }
}

export interface DispositionFacts {
  /** Billable seconds: > 0 means the call was answered. */
  billsec: number | undefined;
  q850: number | undefined;
  /** sip_hangup_disposition: who sent the BYE. */
  hangupDisposition: string | undefined;
  /** The caller left the queue before an agent took the call (cc_cause Cancel). */
  abandonedInQueue: boolean;
  agent: string | undefined;
  machine: boolean;
}

/**
 * The CDR disposition from what FreeSWITCH records: answered calls by who hung up (or abandoned
 * in queue, or a machine); unanswered calls by their Q.850 cause.
 */
export function deriveDisposition(facts: DispositionFacts): CdrDisposition {
  if (facts.billsec !== undefined && facts.billsec > 0) {
    if (facts.machine) return 'machine';
    if (facts.abandonedInQueue && !facts.agent) return 'abandoned';
    if (facts.agent && facts.hangupDisposition) return HANGUP_DISPOSITION[facts.hangupDisposition] ?? 'answered';
    return 'answered';
  }
  if (facts.q850 === undefined) return 'failed';
  return UNANSWERED_DISPOSITION_BY_Q850[facts.q850] ?? 'failed';
}

function endedBy(disposition: string | undefined): 'caller' | 'agent' | undefined {
  if (disposition === 'recv_bye') return 'agent';
  if (disposition === 'send_bye') return 'caller';
  return undefined;
}

/** Event-Date-Timestamp is microseconds since the epoch. */
function eventTime(event: FreeswitchEvent): string {
  const micros = event['Event-Date-Timestamp'];
  if (micros && /^\d{10,17}$/.test(micros)) return new Date(Math.floor(Number(micros) / 1000)).toISOString();
  return new Date().toISOString();
}
