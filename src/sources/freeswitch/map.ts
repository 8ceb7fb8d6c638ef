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
import { compact, epochSecondsToIso, nonNegativeInt, rememberRecent, type SourceEvent, type WrapupEnd } from '../source.js';

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

/** One `cdr.created` per call (legs merged) or per customer channel, as FreeSWITCH reports them. */
export type CdrMode = 'per_call' | 'per_leg';

/** One channel of a call, as its CHANNEL_HANGUP_COMPLETE describes it. Epochs are FreeSWITCH's seconds. */
export interface FreeswitchLeg {
  core: string;
  /** The hangup event's time. */
  time: string;
  uuid: string;
  /** The call's root id: the caller's channel uuid. */
  root: string;
  side: 'member' | 'agent' | undefined;
  /** The customer's channel: a queue member, or a dialler call. */
  customer: boolean;
  /** Part of a call Switchboard reports (queue, dialler, or a B-leg of another channel). */
  tracked: boolean;
  number: string | undefined;
  dialNumber: string | undefined;
  direction: 'inbound' | 'outbound';
  callId: string | undefined;
  campaign: string | undefined;
  contactRef: string | undefined;
  startEpoch: string | undefined;
  answerEpoch: string | undefined;
  endEpoch: string | undefined;
  duration: number | undefined;
  billsec: number | undefined;
  hold: number | undefined;
  q850: number | undefined;
  sipCode: number | undefined;
  hangupDisposition: string | undefined;
  cancelledInQueue: boolean;
  agent: string | undefined;
  queue: string | undefined;
  queueJoinedEpoch: string | undefined;
  queueAnsweredEpoch: string | undefined;
  /** When the caller left the queue: the agent's bridge ended, or the caller gave up. */
  queueLeftEpoch: string | undefined;
  machine: boolean;
}

/** A leg of the call `root` started (no `ended`) or ended. */
export interface CallLegUpdate {
  root: string;
  legId: string;
  ended?: FreeswitchLeg;
}

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
 *
 * CHANNEL_HANGUP_COMPLETE makes a CDR per customer channel (`per_leg`), or (`per_call`) feeds
 * {@link callLeg}: the source collects the legs of each call (../call-record.ts) and writes one
 * record per call from them ({@link callRecord}), keyed `fs:<Core-UUID>:cdr:<caller's uuid>`.
 */
export class FreeswitchMapper {
  private readonly calls = new Map<string, QueuedCall>();
  /** Agents whose queue call ended (`ended`) and, of those, the ones in after-call work (`wrapup`). */
  private readonly afterCall = new Map<string, 'ended' | 'wrapup'>();
  /** Each agent's status (`CC-Agent-Status`) and `wrap-up-time`, from its events and the resync's agent list. */
  private readonly agents = new Map<string, { status: string | undefined; wrapUpS: number }>();
  /** Wrap-ups running on mod_callcenter's `wrap-up-time`: when each ends, by agent. */
  private readonly wrapupUntil = new Map<string, number>();
  /** Wrap-ups begun since the source last took them: it publishes each one's end when it comes. */
  private wrapups: WrapupEnd[] = [];

  private readonly perCall: boolean;

  /** `per_call`: hangups feed {@link callLeg} instead of making a CDR each (`per_leg`). */
  constructor(
    private readonly variables: ChannelVariableNames,
    cdr: CdrMode = 'per_leg',
  ) {
    this.perCall = cdr === 'per_call';
  }

  map(event: FreeswitchEvent): SourceEvent[] {
    const core = event['Core-UUID'];
    const sequence = event['Event-Sequence'];
    if (!core || !sequence || !/^\d+$/.test(sequence)) throw new NotAnEventError('event without Core-UUID and Event-Sequence');
    const id = `fs:${core}:${sequence}`;
    const time = eventTime(event);
    const name = event['Event-Name'];
    if (name === 'CHANNEL_HANGUP_COMPLETE') return this.perCall ? [] : this.cdr(event, id);
    if (name !== 'CUSTOM' || event['Event-Subclass'] !== 'callcenter::info') return [];

    const action = event['CC-Action'] ?? '';
    if (action === 'agent-state-change') return this.agentState(event, id, time);
    const type = action === 'member-queue-end' ? FREESWITCH_QUEUE_END[event['CC-Cause'] ?? ''] : FREESWITCH_CC_ACTIONS[action];
    switch (type) {
      case 'agent.status_changed': {
        const raw = event['CC-Agent-Status'];
        const status = raw === undefined ? undefined : FREESWITCH_AGENT_STATUS[raw];
        if (!status || !event['CC-Agent']) return [];
        this.noteAgent(event['CC-Agent'], raw, undefined);
        return [{ id, type, time, data: { agent: event['CC-Agent'], status, status_raw: raw } }];
      }
      case 'call.queued':
        return [{ id, type, time, data: this.queued(event, time) }];
      case 'call.offered':
        if (!event['CC-Agent']) return [];
        return [{ id, type, time, data: { ...this.callFields(event), agent: event['CC-Agent'] } }];
      case 'call.connected': {
        if (!event['CC-Agent']) return [];
        // The wait as mod_callcenter measured it: it counts even when member-queue-start was not heard.
        const joined = nonNegativeInt(event['CC-Member-Joined-Time']);
        const answered = nonNegativeInt(event['CC-Agent-Answered-Time']);
        const wait = joined && answered && answered >= joined ? answered - joined : undefined;
        return [{ id, type, time, data: compact({ ...this.callFields(event), agent: event['CC-Agent'], wait_s: wait }) }];
      }
      case 'call.ended': {
        const endedId = `fs:${core}:ended:${event['CC-Member-UUID'] ?? sequence}`;
        const ended: SourceEvent = { id: endedId, type, time, data: this.ended(event, action) };
        const agent = event['CC-Agent'];
        if (action !== 'bridge-agent-end' || !agent) return [ended];
        rememberRecent(this.afterCall, agent, 'ended', MAX_REMEMBERED_CALLS);
        return [ended, ...this.startWrapup(agent, event, `${endedId}:wrapup`.slice(0, 128), time)];
      }
      case 'call.missed':
        // ORIGINATOR_CANCEL: the caller hung up while the agent's phone rang, an abandon, not the agent's miss.
        if (!event['CC-Agent'] || event['CC-Hangup-Cause'] === 'ORIGINATOR_CANCEL') return [];
        return [{ id, type, time, data: compact({ ...this.callFields(event), agent: event['CC-Agent'], missed_at: epochSecondsToIso(event['CC-Agent-Aborted-Time']) ?? time, reason_raw: event['CC-Hangup-Cause'] }) }];
      case 'call.abandoned':
        return [{ id, type, time, data: this.abandoned(event, time) }];
      default:
        return [];
    }
  }

  /** Forgets remembered calls (a new Core-UUID: the PBX restarted and its calls are gone). */
  reset(): void {
    this.calls.clear();
    this.afterCall.clear();
    this.wrapupUntil.clear();
  }

  /** What `callcenter_config agent list` (or an agent-status-change) says of an agent: its status and `wrap_up_time`. */
  noteAgent(agent: string, status: string | undefined, wrapUpS: number | undefined): void {
    const known = this.agents.get(agent);
    rememberRecent(this.agents, agent, { status: status ?? known?.status, wrapUpS: wrapUpS ?? known?.wrapUpS ?? 0 }, MAX_REMEMBERED_CALLS);
  }

  /**
   * Whether the agent is in a wrap-up this source began and has not yet published the end of:
   * mod_callcenter's agent list says `Available` then (it never announces the wrap-up), so a
   * resync must not take that for a change; the end comes on its own time (endWrapup).
   */
  inWrapup(agent: string): boolean {
    return this.wrapupUntil.has(agent);
  }

  /** The wrap-ups begun since the last call: the source publishes each one's end at its time. */
  takeWrapups(): WrapupEnd[] {
    return this.wrapups.splice(0);
  }

  /** A wrap-up's time is over: the agent is available again, unless something since replaced the wrap-up. */
  endWrapup({ agent, untilMs }: WrapupEnd, core: string): SourceEvent[] {
    if (this.wrapupUntil.get(agent) !== untilMs) return [];
    this.wrapupUntil.delete(agent);
    this.afterCall.delete(agent);
    return [{ id: `fs:${core}:wrapup-end:${agent}:${untilMs}`.slice(0, 128), type: 'agent.status_changed', time: new Date(untilMs).toISOString(), data: { agent, status: 'available', status_raw: 'Waiting' } }];
  }

  /**
   * bridge-agent-end of an `Available` agent with a `wrap-up-time`: mod_callcenter offers it no
   * call until the bridge's end plus that time, and announces neither; published as `wrapup`
   * now and its end by the source at its time (endWrapup).
   */
  private startWrapup(agent: string, event: FreeswitchEvent, id: string, time: string): SourceEvent[] {
    const known = this.agents.get(agent);
    if (!known || known.status !== 'Available' || known.wrapUpS <= 0) return [];
    const endedS = nonNegativeInt(event['CC-Bridge-Terminated-Time']);
    const untilMs = (endedS === undefined ? Date.parse(time) : endedS * 1000) + known.wrapUpS * 1000;
    this.afterCall.set(agent, 'wrapup');
    this.wrapupUntil.set(agent, untilMs);
    this.wrapups.push({ agent, untilMs });
    return [{ id, type: 'agent.status_changed', time, data: { agent, status: 'wrapup', status_raw: 'wrap_up_time' } }];
  }

  /**
   * mod_callcenter's agent-state-change: an agent `Available (On Demand)` goes `Idle` after a
   * queue call and takes no call until it sets itself `Waiting` again: that is after-call work
   * (`wrapup`), and the state that follows it ends it. Other state changes say nothing the
   * catalogue's status does not.
   */
  private agentState(event: FreeswitchEvent, id: string, time: string): SourceEvent[] {
    const agent = event['CC-Agent'];
    const state = event['CC-Agent-State'];
    if (!agent || !state) return [];
    // During a wrap-up on wrap-up-time mod_callcenter already says Waiting: only a new call ends it early.
    if (this.wrapupUntil.has(agent) && state !== 'Receiving' && state !== 'In a queue call') return [];
    this.wrapupUntil.delete(agent);
    const after = this.afterCall.get(agent);
    if (state === 'Idle' && after === 'ended') {
      this.afterCall.set(agent, 'wrapup');
      return [{ id, type: 'agent.status_changed', time, data: { agent, status: 'wrapup', status_raw: state } }];
    }
    this.afterCall.delete(agent);
    if (after !== 'wrapup' || state === 'Idle') return [];
    return [{ id, type: 'agent.status_changed', time, data: { agent, status: state === 'Waiting' ? 'available' : 'busy', status_raw: state } }];
  }

  /**
   * A caller `callcenter_config queue list members` shows waiting (state Waiting or Trying) that
   * the hub did not know: reported as `call.queued`, its entry time FreeSWITCH's own `joined_epoch`,
   * so live `waiting` counts callers who joined while no hub listened. Undefined for a known call.
   */
  waitingMember(core: string, member: Record<string, string>, time: string): SourceEvent | undefined {
    const sessionUuid = member.session_uuid;
    if (!sessionUuid || !member.queue || (member.state !== 'Waiting' && member.state !== 'Trying') || this.calls.has(sessionUuid)) return undefined;
    const queuedAt = epochSecondsToIso(member.joined_epoch) ?? time;
    rememberRecent(this.calls, sessionUuid, { callId: sessionUuid, campaign: undefined, contactRef: undefined, number: member.cid_number || undefined, queuedAt }, MAX_REMEMBERED_CALLS);
    return {
      id: `fs:${core}:waiting:${sessionUuid}:${member.queue}`.slice(0, 128),
      type: 'call.queued',
      time,
      data: compact({
        call_id: sessionUuid,
        queue: member.queue,
        caller_id: member.cid_number,
        caller_name: member.cid_name,
        member_uuid: member.uuid,
        member_session_uuid: sessionUuid,
        queued_at: queuedAt,
      }),
    };
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
    if (sessionUuid) rememberRecent(this.calls, sessionUuid, call, MAX_REMEMBERED_CALLS);
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
      // mod_callcenter reports a caller who hung up as BREAK_OUT; the event's channel data shows the hangup.
      reason: raw === 'BREAK_OUT' && event['Answer-State'] === 'hangup' ? 'caller_hungup' : ((raw && FREESWITCH_CANCEL_REASON[raw]) ?? 'other'),
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
   * The call leg an event starts or ends, keyed by the call's root id (the caller's channel uuid):
   * member-queue-start starts the caller's leg, bridge-agent-start the answering agent's leg, and
   * each CHANNEL_HANGUP_COMPLETE of a call's channel ends its leg. Used when the source keeps one
   * record per call (docs/sources.md, "One record per call (FreeSWITCH)"); undefined for other events.
   */
  callLeg(event: FreeswitchEvent): CallLegUpdate | undefined {
    const name = event['Event-Name'];
    if (name === 'CHANNEL_HANGUP_COMPLETE') {
      const leg = this.leg(event);
      if (!leg || !leg.tracked) return undefined;
      return { root: leg.root, legId: leg.uuid, ended: leg };
    }
    if (name !== 'CUSTOM' || event['Event-Subclass'] !== 'callcenter::info') return undefined;
    const action = event['CC-Action'];
    const root = event['CC-Member-Session-UUID'];
    if (!root) return undefined;
    if (action === 'member-queue-start' || action === 'member-queue-resume') return { root, legId: root };
    const agentLeg = event['CC-Agent-UUID'];
    if (action === 'bridge-agent-start' && agentLeg) return { root, legId: agentLeg };
    return undefined;
  }

  /**
   * CHANNEL_HANGUP_COMPLETE → one CDR per customer leg (`cdr: per_leg`): a queue member
   * (`cc_side` member or a `cc_queue`), or a dialler call (its call-id variable is set) even if it
   * never reached a queue, so every number tried has its CDR. Agent legs and other calls are ignored.
   */
  private cdr(event: FreeswitchEvent, id: string): SourceEvent[] {
    const leg = this.leg(event);
    if (!leg || leg.side === 'agent' || !leg.customer) return [];
    const data = compact({
      call_id: leg.callId ?? leg.uuid,
      number: leg.number,
      direction: leg.direction,
      dialed_at: epochSecondsToIso(leg.startEpoch) ?? leg.time,
      disposition: deriveDisposition({
        billsec: leg.billsec,
        q850: leg.q850,
        hangupDisposition: leg.hangupDisposition,
        abandonedInQueue: leg.cancelledInQueue,
        agent: leg.agent,
        machine: leg.machine,
      }),
      agent: leg.agent ?? null,
      campaign: leg.campaign,
      contact_ref: leg.contactRef,
      dial_number: leg.dialNumber,
      answered_at: epochSecondsToIso(leg.answerEpoch),
      ended_at: epochSecondsToIso(leg.endEpoch),
      duration_s: leg.duration,
      talk_s: leg.billsec,
      hold_s: leg.hold,
      q850_cause: leg.q850,
      sip_code: leg.sipCode,
    });
    return [{ id, type: 'cdr.created', time: leg.time, data }];
  }

  /** What a CHANNEL_HANGUP_COMPLETE says about its channel (mod_callcenter's variables: docs/sources.md). */
  private leg(event: FreeswitchEvent): FreeswitchLeg | undefined {
    const variable = (name: string) => this.variable(event, name);
    const uuid = event['Unique-ID'] ?? variable('uuid');
    const core = event['Core-UUID'];
    if (!uuid || !core) return undefined;
    const rawSide = variable('cc_side');
    const side = rawSide === 'member' || rawSide === 'agent' ? rawSide : undefined;
    const callId = variable(this.variables.callId);
    const queue = variable('cc_queue');
    // mod_callcenter stamps the caller's channel uuid on the agent legs it originates; a bridged
    // B-leg names its A-leg as the originator.
    const root =
      variable('cc_member_session_uuid') ??
      (event['Other-Type'] === 'originator' ? event['Other-Leg-Unique-ID'] : undefined) ??
      variable('originating_leg_uuid') ??
      uuid;
    const outbound = (event['Call-Direction'] ?? variable('direction')) === 'outbound';
    const number = outbound
      ? (event['Caller-Destination-Number'] ?? variable('destination_number'))
      : (event['Caller-Caller-ID-Number'] ?? variable('caller_id_number'));
    const sipStatus = nonNegativeInt(variable('sip_term_status'));
    const customer = side === 'member' || (side === undefined && (queue !== undefined || callId !== undefined));
    return {
      core,
      time: eventTime(event),
      uuid,
      root,
      side,
      customer: customer && Boolean(number),
      tracked: side !== undefined || queue !== undefined || callId !== undefined || root !== uuid,
      number,
      dialNumber: outbound ? event['Caller-Caller-ID-Number'] : event['Caller-Destination-Number'],
      direction: outbound ? 'outbound' : 'inbound',
      callId,
      campaign: variable(this.variables.campaign),
      contactRef: this.variables.contactRef ? variable(this.variables.contactRef) : undefined,
      startEpoch: variable('start_epoch'),
      answerEpoch: variable('answer_epoch'),
      endEpoch: variable('end_epoch'),
      duration: nonNegativeInt(variable('duration')),
      billsec: nonNegativeInt(variable('billsec')),
      hold: nonNegativeInt(variable('hold_accum_seconds')),
      q850: nonNegativeInt(variable('hangup_cause_q850')) ?? Q850_BY_NAME[event['Hangup-Cause'] ?? variable('hangup_cause') ?? ''],
      sipCode: sipStatus !== undefined && sipStatus >= 100 && sipStatus <= 699 ? sipStatus : undefined,
      hangupDisposition: variable('sip_hangup_disposition'),
      // mod_callcenter sets the variable in lower case (`cancel`, `answered`); only the CC-Cause header is capitalised.
      cancelledInQueue: variable('cc_cause')?.toLowerCase() === 'cancel',
      agent: variable('cc_agent'),
      queue,
      queueJoinedEpoch: variable('cc_queue_joined_epoch'),
      queueAnsweredEpoch: variable('cc_queue_answered_epoch'),
      queueLeftEpoch: variable('cc_queue_terminated_epoch') ?? variable('cc_queue_canceled_epoch'),
      machine: /^(machine|fax)$/i.test(variable('amd_status') ?? variable('amd_result') ?? ''),
    };
  }

  private variable(event: FreeswitchEvent, name: string): string | undefined {
    const value = event[`variable_${name}`];
    return value === undefined || value === '' ? undefined : value;
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
  /** The caller left the queue before an agent took the call (`cc_cause` cancel). */
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

/**
 * The one record of a call from the legs it had (`cdr: per_call`, docs/sources.md): the caller's
 * leg gives the numbers, the disposition and its causes; the agent's answer (not the IVR's) is
 * the answer; times span every leg. A call without a customer leg (an agent leg that rang after
 * the caller had gone) has no record.
 */
export function callRecord(root: string, legs: readonly FreeswitchLeg[]): SourceEvent | undefined {
  const caller = legs.find((leg) => leg.side === 'member') ?? legs.find((leg) => leg.uuid === root && leg.customer);
  if (!caller?.number) return undefined;
  const answeringAgent = legs.find((leg) => leg.side === 'agent' && leg.agent !== undefined && (leg.billsec ?? 0) > 0);
  const agent = caller.agent ?? answeringAgent?.agent;
  const queue = caller.queue ?? legs.find((leg) => leg.queue !== undefined)?.queue;

  const started = earliest(legs.map((leg) => positive(leg.startEpoch)));
  const ended = latest(legs.map((leg) => positive(leg.endEpoch)));
  const callerEnded = positive(caller.endEpoch);
  let answered: number | undefined;
  let talk: number | undefined;
  let wait: number | undefined;
  if (queue === undefined) {
    answered = positive(caller.answerEpoch);
    talk = caller.billsec;
  } else {
    answered = agent === undefined ? undefined : (positive(caller.queueAnsweredEpoch) ?? positive(answeringAgent?.answerEpoch));
    const bridgeEnded = positive(caller.queueLeftEpoch) ?? earliest([callerEnded, positive(answeringAgent?.endEpoch)]);
    talk = difference(answered, bridgeEnded);
    const joined = positive(caller.queueJoinedEpoch);
    wait = difference(joined, answered ?? positive(caller.queueLeftEpoch) ?? callerEnded);
  }
  const data = compact({
    call_id: caller.callId ?? root,
    number: caller.number,
    direction: caller.direction,
    dialed_at: isoOf(started) ?? caller.time,
    disposition: deriveDisposition({
      billsec: caller.billsec,
      q850: caller.q850,
      hangupDisposition: caller.hangupDisposition,
      // A queued caller no agent took left the queue unserved, whatever the IVR had answered.
      abandonedInQueue: caller.cancelledInQueue || (queue !== undefined && agent === undefined),
      agent,
      machine: caller.machine,
    }),
    agent: agent ?? null,
    campaign: caller.campaign ?? legs.find((leg) => leg.campaign !== undefined)?.campaign,
    queue,
    contact_ref: caller.contactRef,
    dial_number: caller.dialNumber,
    answered_at: isoOf(answered),
    ended_at: isoOf(ended),
    duration_s: difference(started, ended) ?? caller.duration,
    wait_s: wait,
    talk_s: talk,
    hold_s: latest(legs.map((leg) => leg.hold)),
    q850_cause: caller.q850,
    sip_code: caller.sipCode,
  });
  const time = legs.map((leg) => leg.time).reduce((last, next) => (next > last ? next : last));
  // Keyed by the call, not by a PBX event: the same call flushed twice (or by two hubs) is one record.
  return { id: `fs:${caller.core}:cdr:${root}`, type: 'cdr.created', time, data };
}

function positive(value: string | undefined): number | undefined {
  const seconds = nonNegativeInt(value);
  return seconds === undefined || seconds === 0 ? undefined : seconds;
}

function isoOf(seconds: number | undefined): string | undefined {
  return seconds === undefined ? undefined : new Date(seconds * 1000).toISOString();
}

function earliest(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

function latest(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((value): value is number => value !== undefined);
  return known.length === 0 ? undefined : Math.max(...known);
}

function difference(from: number | undefined, to: number | undefined): number | undefined {
  return from !== undefined && to !== undefined && to >= from ? to - from : undefined;
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
