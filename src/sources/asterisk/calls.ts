import type { CdrDisposition } from '../../events/catalogue.js';
import { ASTERISK_CDR_DISPOSITION, ASTERISK_COMPLETE_DISPOSITION, UNANSWERED_DISPOSITION_BY_Q850 } from '../mappings.js';
import { MAX_CALLS_IN_PROGRESS, type LegTracker } from '../call-record.js';
import { nonNegativeInt, type SourceEvent } from '../source.js';

type Headers = Record<string, string>;

/** Everything the hub heard about one call: every channel sharing a Linkedid (docs/sources.md, "One record per call (Asterisk)"). */
export interface CallLegs {
  root: string;
  /** The dialler's identifiers, from channel variables (manager.conf `channelvars`) when the events carry them. */
  callId: string | undefined;
  campaign: string | undefined;
  contactRef: string | undefined;
  /** Channels (Uniqueid) seen alive, and those seen hung up. */
  channels: Set<string>;
  hungUp: Set<string>;
  /** A Hangup of any of its channels was heard (the `call` event class is on). */
  sawHangup: boolean;
  /** The root channel's Newchannel time: when the call was dialled. */
  startedMs: number | undefined;
  lastHangupMs: number | undefined;
  /** The root channel's own Cdr (UniqueID = Linkedid), and the earliest start / latest end of every leg's Cdr. */
  rootCdr: Headers | undefined;
  cdrStart: string | undefined;
  cdrEnd: string | undefined;
  callerNumber: string | undefined;
  callerName: string | undefined;
  /** The extension the caller dialled (the root channel's Exten). */
  dialled: string | undefined;
  queue: string | undefined;
  queuedMs: number | undefined;
  agent: string | undefined;
  answeredMs: number | undefined;
  /** Seconds in queue before the first answer, or before giving up. */
  waitS: number | undefined;
  talkS: number;
  completeReason: string | undefined;
  outcome: 'none' | 'connected' | 'abandoned' | 'unserved';
  /** Every channel hung up before AgentComplete came: the record waits for it a little (AGENT_COMPLETE_LEG). */
  awaitingComplete: boolean;
  holdMs: number;
  holdSince: Map<string, number>;
  rootCause: number | undefined;
  /** `per_leg`: the records of its legs, written together once the call is over. */
  legRecords: SourceEvent[];
}

/** The leg a served call's AgentComplete stands for, when the channels all hung up before it came. */
export const AGENT_COMPLETE_LEG = 'AgentComplete';


/**
 * Gathers what Asterisk says of its calls, keyed by Linkedid: the channel events (Newchannel,
 * Hangup, Hold, Unhold), the queue events, cdr_manager's per-leg `Cdr` and CEL `LINKEDID_END`.
 * Each channel is a leg reported to the source's `CallRecords` (src/sources/call-record.ts),
 * which decides when the call is over (no channel left, plus `cdrSettleMs` for the trailing
 * `Cdr` events) and then has the record taken.
 */
export class CallAssembler {
  private readonly calls = new Map<string, CallLegs>();
  private readonly rootOfChannel = new Map<string, string>();
  /** Newchannel or Hangup was heard: the `call` event class is on, so every channel's call is learned from them. */
  private channelEvents = false;

  constructor(private readonly legs: LegTracker<string>) {}

  /** The call a channel belongs to, learned from any event carrying Uniqueid and Linkedid. */
  rootOf(uniqueId: string): string | undefined {
    return this.rootOfChannel.get(uniqueId);
  }

  get(root: string): CallLegs | undefined {
    return this.calls.get(root);
  }

  /** Notes a channel of a call (any event with a channel snapshot); creates the call on first sight. */
  channel(headers: Headers, timeMs: number): CallLegs | undefined {
    const uniqueId = headers.Uniqueid ?? headers.UniqueID;
    const root = headers.Linkedid || headers.LinkedID || (uniqueId ? this.rootOfChannel.get(uniqueId) : undefined);
    if (!root || !uniqueId) return undefined;
    if (headers.Event === 'Newchannel' || headers.Event === 'Hangup') this.channelEvents = true;
    const call = this.touch(root);
    if (!this.rootOfChannel.has(uniqueId)) {
      this.rootOfChannel.set(uniqueId, root);
      if (this.rootOfChannel.size > MAX_CALLS_IN_PROGRESS * 8) this.rootOfChannel.delete(this.rootOfChannel.keys().next().value as string);
    }
    if (!call.hungUp.has(uniqueId) && !call.channels.has(uniqueId)) {
      call.channels.add(uniqueId);
      this.legs.legStarted(root, uniqueId);
    }
    if (uniqueId === root) {
      call.startedMs ??= headers.Event === 'Newchannel' ? timeMs : undefined;
      call.callerNumber ??= known(headers.CallerIDNum);
      call.callerName ??= known(headers.CallerIDName);
      if (headers.Event === 'Newchannel') call.dialled ??= known(headers.Exten);
    }
    return call;
  }

  hangup(headers: Headers, timeMs: number): void {
    const call = this.channel(headers, timeMs);
    const uniqueId = headers.Uniqueid ?? headers.UniqueID;
    if (!call || !uniqueId) return;
    call.sawHangup = true;
    call.lastHangupMs = Math.max(call.lastHangupMs ?? 0, timeMs);
    this.closeHold(call, uniqueId, timeMs);
    if (uniqueId === call.root) {
      const cause = nonNegativeInt(headers.Cause);
      if (cause !== undefined && cause > 0) call.rootCause = cause;
    }
    this.legEnded(call, uniqueId);
  }

  /** CEL LINKEDID_END: Asterisk itself says the call's last channel is gone. */
  linkedidEnd(root: string): void {
    const call = this.calls.get(root);
    if (call) this.endAll(call);
  }

  /** A channel put on hold or taken off it. Returns the call it belongs to, if any. */
  hold(headers: Headers, timeMs: number, held: boolean): CallLegs | undefined {
    const call = this.channel(headers, timeMs);
    const uniqueId = headers.Uniqueid;
    if (call && uniqueId) {
      if (!held) this.closeHold(call, uniqueId, timeMs);
      else if (!call.holdSince.has(uniqueId)) call.holdSince.set(uniqueId, timeMs);
    }
    return call;
  }

  /** A leg's Cdr. Returns the call it belongs to, if any. */
  cdr(headers: Headers): CallLegs | undefined {
    const uniqueId = headers.UniqueID ?? headers.Uniqueid;
    if (!uniqueId) return undefined;
    let root = this.rootOfChannel.get(uniqueId) ?? (this.calls.has(uniqueId) ? uniqueId : undefined);
    // A channel no event placed in a call, though channel events flow: a leg of a call the hub
    // joined late (its Cdr can precede its Hangup). Only without channel events is it its own call.
    if (root === undefined) {
      if (this.channelEvents) return undefined;
      root = uniqueId;
    }
    const call = this.touch(root);
    if (uniqueId === root && !call.rootCdr) call.rootCdr = headers;
    if (headers.StartTime && (!call.cdrStart || headers.StartTime < call.cdrStart)) call.cdrStart = headers.StartTime;
    if (headers.EndTime && (!call.cdrEnd || headers.EndTime > call.cdrEnd)) call.cdrEnd = headers.EndTime;
    // Without channel events (an `Events:` class list without `call`), the root's own record ends the call.
    if (uniqueId === root && !call.sawHangup) this.endAll(call);
    return call;
  }

  joined(call: CallLegs, queue: string, timeMs: number): void {
    call.queue = queue;
    call.queuedMs ??= timeMs;
    if (call.outcome === 'unserved') call.outcome = 'none';
  }

  connected(call: CallLegs, agent: string, queue: string | undefined, timeMs: number, waitS: number | undefined): void {
    call.agent = agent;
    call.queue = queue ?? call.queue;
    if (call.outcome !== 'connected') {
      call.answeredMs = timeMs;
      call.waitS = waitS;
    }
    call.outcome = 'connected';
  }

  completed(call: CallLegs, talkS: number | undefined, reason: string | undefined): void {
    call.talkS += talkS ?? 0;
    call.completeReason = reason;
    if (call.awaitingComplete) this.legs.legEnded(call.root, AGENT_COMPLETE_LEG, AGENT_COMPLETE_LEG);
  }

  /**
   * app_queue publishes AgentComplete apart from the channel events, and on a loaded Asterisk it
   * can come after the call's last hang-up. A served call over without it waits for it as for one
   * more leg, once (true: the caller starts that leg and its deadline).
   */
  awaitComplete(root: string): boolean {
    const call = this.calls.get(root);
    if (!call || call.outcome !== 'connected' || call.completeReason !== undefined || call.awaitingComplete) return false;
    call.awaitingComplete = true;
    return true;
  }

  abandoned(call: CallLegs, waitS: number | undefined): void {
    if (call.outcome === 'connected') return;
    call.outcome = 'abandoned';
    call.waitS = waitS;
  }

  /** QueueCallerLeave: after AgentConnect it is the answer; alone, the caller left unserved (timeout, exit key). */
  left(call: CallLegs, timeMs: number): void {
    if (call.outcome === 'none') {
      call.outcome = 'unserved';
      if (call.queuedMs !== undefined) call.waitS = Math.max(0, Math.round((timeMs - call.queuedMs) / 1000));
    }
  }

  /** Removes the call and returns what was gathered. */
  take(root: string): CallLegs | undefined {
    const call = this.calls.get(root);
    if (!call) return undefined;
    this.calls.delete(root);
    for (const uniqueId of [...call.channels, ...call.hungUp]) this.rootOfChannel.delete(uniqueId);
    return call;
  }

  /** Every channel of every call is gone (the PBX restarted): each call ends as it was last heard of. */
  endEveryCall(): void {
    for (const call of this.calls.values()) this.endAll(call);
  }

  private touch(root: string): CallLegs {
    let call = this.calls.get(root);
    if (call) {
      // Most recently heard of last: the bound forgets the stalest call.
      this.calls.delete(root);
    } else {
      call = {
        root,
        callId: undefined,
        campaign: undefined,
        contactRef: undefined,
        channels: new Set(),
        hungUp: new Set(),
        sawHangup: false,
        startedMs: undefined,
        lastHangupMs: undefined,
        rootCdr: undefined,
        cdrStart: undefined,
        cdrEnd: undefined,
        callerNumber: undefined,
        callerName: undefined,
        dialled: undefined,
        queue: undefined,
        queuedMs: undefined,
        agent: undefined,
        answeredMs: undefined,
        waitS: undefined,
        talkS: 0,
        completeReason: undefined,
        outcome: 'none',
        awaitingComplete: false,
        holdMs: 0,
        holdSince: new Map(),
        rootCause: undefined,
        legRecords: [],
      };
      // The root channel (the caller's) is a leg from the first word of the call, seen or not: the
      // call is not over before it hangs up (a hub that connected mid-call never saw it created).
      call.channels.add(root);
      this.legs.legStarted(root, root);
    }
    this.calls.set(root, call);
    if (this.calls.size > MAX_CALLS_IN_PROGRESS) this.take(this.calls.keys().next().value as string);
    return call;
  }

  private legEnded(call: CallLegs, uniqueId: string): void {
    call.channels.delete(uniqueId);
    call.hungUp.add(uniqueId);
    this.legs.legEnded(call.root, uniqueId, uniqueId);
  }

  /** Every channel of the call is gone: a call none of whose channels was seen ends as its root leg. */
  private endAll(call: CallLegs): void {
    const open = call.channels.size > 0 ? [...call.channels] : [call.root];
    for (const uniqueId of open) this.legEnded(call, uniqueId);
  }

  private closeHold(call: CallLegs, uniqueId: string, timeMs: number): void {
    const since = call.holdSince.get(uniqueId);
    if (since === undefined) return;
    call.holdSince.delete(uniqueId);
    call.holdMs += Math.max(0, timeMs - since);
  }
}

/**
 * The call's disposition: served by an agent (who hung up, from AgentComplete's Reason),
 * abandoned in queue, left the queue unserved, or, for a call that never reached a queue, the
 * root leg's own Cdr (else its hangup cause).
 */
export function callDisposition(call: CallLegs): CdrDisposition {
  switch (call.outcome) {
    case 'connected':
      return ASTERISK_COMPLETE_DISPOSITION[call.completeReason ?? ''] ?? 'answered';
    case 'abandoned':
      return 'abandoned';
    case 'unserved':
      return 'no_answer';
    case 'none': {
      const raw = call.rootCdr?.Disposition;
      if (raw) return ASTERISK_CDR_DISPOSITION[raw] ?? 'failed';
      return (call.rootCause !== undefined && UNANSWERED_DISPOSITION_BY_Q850[call.rootCause]) || 'failed';
    }
  }
}

/** Asterisk writes `<unknown>` for a missing caller id. */
export function known(value: string | undefined): string | undefined {
  if (!value || value === '<unknown>') return undefined;
  return value;
}
