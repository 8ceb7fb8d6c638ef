import type { LiveConfig } from '../config/schema.js';
import type { AcceptedEvent, EventScope } from '../events/catalogue.js';
import type { LogEntry } from '../log/codec.js';
import type { FeedConsumer } from '../log/feed.js';
import { LOG_START } from '../log/reader.js';
import { BusinessDay } from './business-day.js';
import { noActivityTime, noQueueCounts, serviceLevelPct, type Activity, type ActivityTimes, type QueueCounts } from './figures.js';
import { Slicer } from './slicer.js';

/** Tenant of a record: the scope of the event that created it. */
export interface RecordScope {
  reseller?: string;
  domain?: string;
}

export interface AgentCall {
  call_id: string;
  state: 'offered' | 'connected';
  since: string;
  queue: string | null;
  /** The agent has the caller on hold (`call.held` until `call.resumed`). */
  held: boolean;
}

/** An agent's business day: counts, and the time spent in each activity up to `activitySinceMs`. */
export interface AgentDay {
  day: string;
  handled: number;
  missed: number;
  times: ActivityTimes;
}

export interface AgentRecord {
  agent: string;
  name: string | null;
  status: string;
  status_since: string;
  campaign: string | null;
  /** The queue of the agent's current or last call. */
  queue: string | null;
  call: AgentCall | null;
  scope: RecordScope;
  source: string | null;
  /** What the supervisor sees (./figures.ts), derived from the status and the current call. */
  activity: Activity;
  activity_since: string;
  activitySinceMs: number;
  /** The not-ready or break reason the source gave. */
  reason: string | null;
  /** Undefined until something is counted for the agent: most agents of a large state have no day yet. */
  today: AgentDay | undefined;
  /** Queue key of the agent's last queue call: its after-call work counts there. */
  lastQueueKey: string | undefined;
}

export type CallState = 'queued' | 'offered' | 'connected';

export interface CallRecord {
  call_id: string;
  state: CallState;
  queue: string | null;
  campaign: string | null;
  agent: string | null;
  number: string | null;
  caller_id: string | null;
  caller_name: string | null;
  queued_at: string | null;
  offered_at: string | null;
  connected_at: string | null;
  scope: RecordScope;
  source: string | null;
}

interface CallTracking {
  record: CallRecord;
  /** Queue key the call counts in (undefined: not a queue call). */
  queueKey: string | undefined;
  offeredCounted: boolean;
  answeredCounted: boolean;
  /** Agent keys the call is being offered to (ringall offers it to several at once). */
  offeredTo: Set<string>;
  /** Epoch ms of the last event about the call (stale calls are dropped at read). */
  touchedMs: number;
}

export interface QueueCounters extends QueueCounts {
  day: string;
}

/** The finest interval of /v1/live/intervals; coarser ones add these up. */
export const SLOT_MS = 15 * 60_000;

export interface QueueRecord {
  /** Tenant-qualified key (scope and name). */
  key: string;
  queue: string;
  campaign: string | null;
  scope: RecordScope;
  counters: QueueCounters;
  /** The day's counts per SLOT_MS interval from the day's start, by interval number. */
  slots: Map<number, QueueCounts> | undefined;
  /** When today's service level went under `alerts.serviceLevelBelowPct` (null: it is not under). */
  slBelowSince: string | null;
}

/** What the live state bounds (`live.maxAgents`, `live.maxQueues`, `live.maxCalls`). */
export type LiveEntityKind = 'agent' | 'queue' | 'call';

export interface SourceRecord {
  source: string;
  kind: string | null;
  last_resync: string | null;
  resync_reason: string | null;
  last_gap: string | null;
  gap_reason: string | null;
}

export interface CdrRecord {
  position: string;
  scope: RecordScope;
  event: AcceptedEvent;
}

const SEP = '\u0000';

function scopeOf(scope: EventScope | undefined): RecordScope {
  const record: RecordScope = {};
  if (scope?.reseller !== undefined) record.reseller = scope.reseller;
  if (scope?.domain !== undefined) record.domain = scope.domain;
  return record;
}

export function keyOf(scope: RecordScope, name: string): string {
  return `${scope.reseller ?? ''}${SEP}${scope.domain ?? ''}${SEP}${name}`;
}

const text = (value: unknown): string | null => (typeof value === 'string' && value !== '' ? value : null);
const seconds = (value: unknown): number | undefined => (typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value * 1000 : undefined);

function newAgent(agent: string, status: string, since: string, scope: RecordScope, source: string | null): AgentRecord {
  const sinceMs = Date.parse(since);
  return {
    agent,
    name: null,
    status,
    status_since: since,
    campaign: null,
    queue: null,
    call: null,
    scope,
    source,
    activity: activityOf(status, null),
    activity_since: since,
    activitySinceMs: sinceMs,
    reason: null,
    today: undefined,
    lastQueueKey: undefined,
  };
}

/** The activity an agent's status and current call make (docs/live.md, "Agent activity"). */
function activityOf(status: string, call: AgentCall | null): Activity {
  if (status === 'offline' || status === 'logging_out') return 'offline';
  if (call?.state === 'offered') return 'ringing';
  if (call?.state === 'connected') return call.held ? 'on_hold' : 'on_call';
  switch (status) {
    case 'wrapup':
      return 'after_call_work';
    case 'not_ready':
      return 'not_ready';
    case 'on_break':
      return 'on_break';
    case 'busy':
      return 'on_call';
    default:
      return 'available';
  }
}

const servedKey = (agentKey: string, queueKey: string) => `${agentKey}${SEP}${SEP}${queueKey}`;

function link(index: Map<string, Set<string>>, from: string, to: string): void {
  let set = index.get(from);
  if (!set) index.set(from, (set = new Set()));
  set.add(to);
}

function unlink(index: Map<string, Set<string>>, from: string, to: string): void {
  const set = index.get(from);
  if (!set?.delete(to) || set.size > 0) return;
  index.delete(from);
}

/** What the daily reset removed. */
export interface Evicted {
  day: string;
  agents: number;
  queues: number;
  calls: number;
}

function emptyCounters(day: string): QueueCounters {
  return { day, ...noQueueCounts() };
}

/**
 * Live contact-centre state, a pure function of the event log: every hub node that has applied
 * the log up to the same position holds the same state, and a restart rebuilds it by replaying.
 * Times come from the events (`time`, or the PBX's own timestamps in `data`), never from when a
 * node applied them, so a replay gives the figures the live run gave.
 *
 * Queue counters belong to one business day (./business-day.ts) and restart with the next one.
 * PBX sources repair it: their resync corrects agents with agent.status_changed events, and a
 * source.resynced after a PBX restart drops that source's calls, which the restart ended.
 */
export class LiveProjection implements FeedConsumer {
  /**
   * Agents, queues and calls, each Map in order of last activity (an entity is moved to the end
   * whenever an event is about it), so the least recently active is the first one: that is the
   * one dropped when a `live.max*` bound is reached.
   */
  readonly agents = new Map<string, AgentRecord>();
  private readonly calls = new Map<string, CallTracking>();
  readonly queues = new Map<string, QueueRecord>();
  /** Queue keys each agent is a member of (by agent key): the PBX's list, else the queues it took calls from. */
  readonly agentQueues = new Map<string, Set<string>>();
  /** The same membership by queue key, so a queue's agents are found without scanning every agent. */
  readonly queueAgents = new Map<string, Set<string>>();
  /** Agent keys by campaign key (tenant and campaign): a queue's campaign brings its agents. */
  readonly campaignAgents = new Map<string, Set<string>>();
  /** Agents whose membership the PBX listed (`data.queues`): kept across the daily reset. */
  private readonly listedByPbx = new Set<string>();
  /**
   * The day an agent last took a call from a queue, by `servedKey(agent, queue)`: such a
   * membership lasts that day. One flat Map: a Map per agent would cost more than the agent.
   */
  private readonly servedOn = new Map<string, string>();
  readonly sources = new Map<string, SourceRecord>();
  readonly cdrs: CdrRecord[] = [];
  readonly day: BusinessDay;
  /** The business day the stale entities were last evicted for. */
  private evictedDay: string | undefined;
  /** Agents in after-call work, not ready or on a break: the ones an agent alert may concern. */
  readonly timedAgents = new Set<string>();
  /** Queues whose service level is under their alert threshold. */
  readonly belowQueues = new Set<string>();
  position = LOG_START;
  applied = 0;

  /** `dropped` is told of each entity dropped because its `live.max*` bound was reached. */
  constructor(
    readonly config: LiveConfig,
    private readonly dropped: (kind: LiveEntityKind) => void = () => {},
  ) {
    this.day = new BusinessDay(config.resetTime, config.timeZone);
  }

  get callCount(): number {
    return this.calls.size;
  }

  deliver(entries: readonly LogEntry[]): void {
    for (const entry of entries) {
      this.position = entry.position;
      if (!HANDLED.has(entry.type)) continue;
      let event: AcceptedEvent;
      try {
        event = entry.event;
      } catch {
        continue;
      }
      this.apply(event, entry.position);
      this.applied += 1;
    }
  }

  /** Thresholds of a queue (its override, else the defaults), in ms. */
  thresholds(queue: string): { serviceLevelMs: number; shortAbandonMs: number } {
    const override = this.config.queues[queue];
    return {
      serviceLevelMs: override?.serviceLevelThresholdMs ?? this.config.serviceLevelThresholdMs,
      shortAbandonMs: override?.shortAbandonMs ?? this.config.shortAbandonMs,
    };
  }

  apply(event: AcceptedEvent, position: string): void {
    const timeMs = Date.parse(event.time);
    const scope = scopeOf(event.scope);
    const data = event.data;
    switch (event.type) {
      case 'agent.status_changed':
        this.agentStatus(event, scope, timeMs);
        return;
      case 'call.queued':
        this.callQueued(event, scope, timeMs);
        return;
      case 'call.offered':
      case 'call.connected':
        this.callAgent(event, scope, timeMs);
        return;
      case 'call.ended':
        this.callEnded(event, scope, timeMs);
        return;
      case 'call.abandoned':
        this.callAbandoned(event, scope, timeMs);
        return;
      case 'call.missed':
        this.callMissed(event, scope, timeMs);
        return;
      case 'call.held':
      case 'call.resumed':
        this.callHold(event, scope, timeMs);
        return;
      case 'cdr.created': {
        this.cdrs.push({ position, scope, event });
        if (this.cdrs.length > this.config.latestCdrs) this.cdrs.splice(0, this.cdrs.length - this.config.latestCdrs);
        // The record closes the call, should its end event have been lost.
        const callId = text(data.call_id);
        const tracked = callId === null ? undefined : this.calls.get(keyOf(scope, callId));
        if (tracked && callId !== null) this.forgetCall(keyOf(scope, callId), tracked, timeMs);
        return;
      }
      case 'source.resynced':
      case 'source.gap':
        this.sourceEvent(event, timeMs);
        return;
    }
  }

  /** The business day of `ms` and the epoch ms it started at. */
  dayStartOf(ms: number): { day: string; startMs: number } {
    return { day: this.day.dayOf(ms), startMs: this.day.startOf(ms) };
  }

  /** The agent's counts for the day of `timeMs` (restarted when that day is a later one); undefined for an earlier day. */
  private agentDay(agent: AgentRecord, timeMs: number): AgentDay | undefined {
    const day = this.day.dayOf(timeMs);
    if (!agent.today || agent.today.day < day) agent.today = { day, handled: 0, missed: 0, times: noActivityTime() };
    return agent.today.day === day ? agent.today : undefined;
  }

  /** Re-derives the agent's activity after an event at `timeMs`; a change closes the time spent in the one before. */
  private refreshActivity(key: string, agent: AgentRecord, timeMs: number): void {
    const activity = activityOf(agent.status, agent.call);
    if (activity !== agent.activity) {
      this.closeActivity(agent, timeMs);
      agent.activity = activity;
      agent.activity_since = new Date(timeMs).toISOString();
      agent.activitySinceMs = timeMs;
    }
    if (activity === 'after_call_work' || activity === 'not_ready' || activity === 'on_break') this.timedAgents.add(key);
    else this.timedAgents.delete(key);
  }

  /** Adds the time in the current activity up to `untilMs` (its part within that business day) to the agent's day. */
  private closeActivity(agent: AgentRecord, untilMs: number): void {
    if (untilMs <= agent.activitySinceMs) return;
    const { startMs } = this.dayStartOf(untilMs);
    const today = this.agentDay(agent, untilMs);
    const spent = untilMs - Math.max(agent.activitySinceMs, startMs);
    if (!today || spent <= 0) return;
    today.times[agent.activity] += spent;
    if (agent.activity === 'after_call_work') this.count(agent.lastQueueKey, untilMs, (counts) => (counts.acw_total_ms += spent));
  }

  /** The agent's day up to `nowMs`: the activity in progress counted up to now. */
  agentToday(agent: AgentRecord, nowMs: number): { handled: number; missed: number; times: ActivityTimes } {
    const { day, startMs } = this.dayStartOf(nowMs);
    const closed = agent.today?.day === day ? agent.today : undefined;
    const times = { ...(closed?.times ?? noActivityTime()) };
    times[agent.activity] += Math.max(0, nowMs - Math.max(agent.activitySinceMs, startMs));
    return { handled: closed?.handled ?? 0, missed: closed?.missed ?? 0, times };
  }

  private agentStatus(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const name = String(data.agent);
    const key = keyOf(scope, name);
    const status = String(data.status);
    const previous = this.agents.get(key);
    const record = previous ?? newAgent(name, status, event.time, scope, null);
    // A repeated status (a resync confirming it) keeps the time in state.
    if (previous && previous.status !== status) {
      record.status = status;
      record.status_since = event.time;
    }
    record.name = text(data.name) ?? record.name;
    record.source = text(event.source) ?? record.source;
    record.reason = status === 'not_ready' || status === 'on_break' ? (text(data.reason) ?? (previous?.status === status ? record.reason : null)) : null;
    if (status === 'offline' || status === 'logging_out') record.call = null;
    this.touchAgent(key, record, text(data.campaign) ?? record.campaign);
    this.refreshActivity(key, record, timeMs);
    if (Array.isArray(data.queues)) this.listMembership(key, scope, data.queues as string[], timeMs);
  }

  /** Makes `agent` the most recently active agent (dropping the least recent one beyond `live.maxAgents`). */
  private touchAgent(key: string, agent: AgentRecord, campaign: string | null): void {
    if (agent.campaign !== campaign || !this.agents.has(key)) {
      if (agent.campaign !== null) unlink(this.campaignAgents, keyOf(agent.scope, agent.campaign), key);
      agent.campaign = campaign;
      if (campaign !== null) link(this.campaignAgents, keyOf(agent.scope, campaign), key);
    }
    this.agents.delete(key);
    this.agents.set(key, agent);
    while (this.agents.size > this.config.maxAgents) {
      this.dropAgent(this.agents.keys().next().value as string);
      this.dropped('agent');
    }
  }

  private dropAgent(key: string): void {
    const agent = this.agents.get(key);
    if (!agent) return;
    this.agents.delete(key);
    if (agent.campaign !== null) unlink(this.campaignAgents, keyOf(agent.scope, agent.campaign), key);
    for (const queueKey of this.agentQueues.get(key) ?? []) unlink(this.queueAgents, queueKey, key);
    for (const queueKey of this.agentQueues.get(key) ?? []) this.servedOn.delete(servedKey(key, queueKey));
    this.agentQueues.delete(key);
    this.listedByPbx.delete(key);
    this.timedAgents.delete(key);
  }

  private joinQueue(agentKey: string, queueKey: string): void {
    if (!this.queues.has(queueKey) || !this.agents.has(agentKey)) return;
    link(this.agentQueues, agentKey, queueKey);
    link(this.queueAgents, queueKey, agentKey);
  }

  private leaveQueue(agentKey: string, queueKey: string): void {
    unlink(this.agentQueues, agentKey, queueKey);
    unlink(this.queueAgents, queueKey, agentKey);
    this.servedOn.delete(servedKey(agentKey, queueKey));
  }

  /** The PBX listed the agent's queues: its membership becomes exactly that set. */
  private listMembership(agentKey: string, scope: RecordScope, names: readonly string[], timeMs: number): void {
    const wanted = new Set<string>();
    for (const name of names) {
      const queueKey = this.queueFor(scope, text(name), null, timeMs);
      if (queueKey !== undefined) wanted.add(queueKey);
    }
    for (const queueKey of [...(this.agentQueues.get(agentKey) ?? [])]) if (!wanted.has(queueKey)) this.leaveQueue(agentKey, queueKey);
    for (const queueKey of wanted) this.joinQueue(agentKey, queueKey);
    this.listedByPbx.add(agentKey);
  }

  private queueFor(scope: RecordScope, queue: string | null, campaign: string | null, timeMs: number): string | undefined {
    if (queue === null) return undefined;
    const key = keyOf(scope, queue);
    const record = this.queues.get(key) ?? { key, queue, campaign, scope, counters: emptyCounters(this.day.dayOf(timeMs)), slots: undefined, slBelowSince: null };
    if (campaign !== null) record.campaign = campaign;
    this.queues.delete(key);
    this.queues.set(record.key, record);
    while (this.queues.size > this.config.maxQueues) {
      this.dropQueue(this.queues.keys().next().value as string);
      this.dropped('queue');
    }
    // The record's own key string: the indexes share it rather than hold a copy per event.
    return record.key;
  }

  private dropQueue(key: string): void {
    this.queues.delete(key);
    this.belowQueues.delete(key);
    for (const agentKey of this.queueAgents.get(key) ?? []) {
      unlink(this.agentQueues, agentKey, key);
      this.servedOn.delete(servedKey(agentKey, key));
    }
    this.queueAgents.delete(key);
  }

  /**
   * Counts something that happened at `timeMs` in the queue's day and in its interval; false
   * (nothing counted) for an event of an earlier day. A later day restarts the counts.
   */
  private count(queueKey: string | undefined, timeMs: number, update: (counts: QueueCounts) => void): boolean {
    const record = queueKey === undefined ? undefined : this.queues.get(queueKey);
    if (!record) return false;
    const { day, startMs } = this.dayStartOf(timeMs);
    if (record.counters.day < day) {
      record.counters = emptyCounters(day);
      record.slots = undefined;
      record.slBelowSince = null;
      this.belowQueues.delete(record.key);
    }
    if (record.counters.day !== day) return false;
    update(record.counters);
    const slot = Math.floor((timeMs - startMs) / SLOT_MS);
    record.slots ??= new Map();
    let counts = record.slots.get(slot);
    if (!counts) record.slots.set(slot, (counts = noQueueCounts()));
    update(counts);
    this.checkServiceLevel(record, timeMs);
    return true;
  }

  /** Notes when today's service level went under the queue's `alerts.serviceLevelBelowPct`, and when it came back. */
  private checkServiceLevel(record: QueueRecord, timeMs: number): void {
    const below = this.config.queues[record.queue]?.alerts?.serviceLevelBelowPct;
    if (below === undefined) return;
    const pct = serviceLevelPct(record.counters, this.config.serviceLevelFormula);
    if (pct !== null && pct < below) {
      record.slBelowSince ??= new Date(timeMs).toISOString();
      this.belowQueues.add(record.key);
    } else {
      record.slBelowSince = null;
      this.belowQueues.delete(record.key);
    }
  }

  private track(scope: RecordScope, data: Record<string, unknown>, timeMs: number, source: string | null): { key: string; tracked: CallTracking } {
    const callId = String(data.call_id);
    const key = keyOf(scope, callId);
    let tracked = this.calls.get(key);
    if (!tracked) {
      tracked = {
        record: {
          call_id: callId,
          state: 'queued',
          queue: null,
          campaign: null,
          agent: null,
          number: null,
          caller_id: null,
          caller_name: null,
          queued_at: null,
          offered_at: null,
          connected_at: null,
          scope,
          source,
        },
        queueKey: undefined,
        offeredCounted: false,
        answeredCounted: false,
        offeredTo: new Set(),
        touchedMs: timeMs,
      };
    }
    this.calls.delete(key);
    this.calls.set(key, tracked);
    while (this.calls.size > this.config.maxCalls) {
      const oldest = this.calls.keys().next().value as string;
      this.forgetCall(oldest, this.calls.get(oldest) as CallTracking, timeMs);
      this.dropped('call');
    }
    const record = tracked.record;
    record.queue = text(data.queue) ?? record.queue;
    record.campaign = text(data.campaign) ?? record.campaign;
    record.number = text(data.number) ?? record.number;
    record.caller_id = text(data.caller_id) ?? record.caller_id;
    record.caller_name = text(data.caller_name) ?? record.caller_name;
    // PBX sources put the caller's queue entry time on every event of the call.
    record.queued_at ??= text(data.queued_at);
    tracked.queueKey = this.queueFor(scope, record.queue, record.campaign, timeMs) ?? tracked.queueKey;
    tracked.touchedMs = Math.max(tracked.touchedMs, timeMs);
    return { key, tracked };
  }

  private callQueued(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const { tracked } = this.track(scope, event.data, timeMs, text(event.source));
    const queuedAt = text(event.data.queued_at) ?? event.time;
    tracked.record.queued_at ??= queuedAt;
    this.countOffered(tracked, Date.parse(tracked.record.queued_at));
  }

  private countOffered(tracked: CallTracking, timeMs: number): void {
    if (tracked.offeredCounted) return;
    tracked.offeredCounted = this.count(tracked.queueKey, timeMs, (counts) => (counts.offered += 1));
  }

  /** Counts a call reaching an agent once, with its wait (from joining the queue, when known). */
  private countAnswered(tracked: CallTracking, answeredMs: number, waitMs: number | undefined): void {
    if (tracked.answeredCounted || tracked.queueKey === undefined) return;
    this.countOffered(tracked, tracked.record.queued_at ? Date.parse(tracked.record.queued_at) : answeredMs);
    const queuedMs = tracked.record.queued_at ? Date.parse(tracked.record.queued_at) : answeredMs;
    const wait = Math.max(0, waitMs ?? answeredMs - queuedMs);
    const withinSl = wait <= this.thresholds(this.queues.get(tracked.queueKey)?.queue ?? '').serviceLevelMs ? 1 : 0;
    tracked.answeredCounted = this.count(tracked.queueKey, answeredMs, (counts) => {
      counts.answered += 1;
      counts.wait_total_ms += wait;
      counts.answered_within_sl += withinSl;
    });
  }

  private callAgent(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const { tracked } = this.track(scope, data, timeMs, text(event.source));
    const record = tracked.record;
    const agentName = String(data.agent);
    record.agent = agentName;
    const connected = event.type === 'call.connected';
    const agentKey = keyOf(scope, agentName);
    if (connected) {
      record.state = 'connected';
      record.connected_at ??= event.time;
      // The PBX's own wait, when it says: the queue entry may predate what this hub saw.
      this.countAnswered(tracked, timeMs, seconds(data.wait_s));
      // Offered to several at once (ringall): the others' phones stop ringing.
      this.endOffers(tracked, timeMs, agentKey);
    } else if (record.state !== 'connected') {
      record.state = 'offered';
      record.offered_at = event.time;
      tracked.offeredTo.add(agentKey);
    }
    const agent = this.agents.get(agentKey) ?? newAgent(agentName, 'available', event.time, scope, text(event.source));
    const state = connected ? 'connected' : 'offered';
    if (agent.call?.call_id !== record.call_id || agent.call.state !== state) {
      agent.call = { call_id: record.call_id, state, since: event.time, queue: record.queue, held: false };
    }
    agent.queue = record.queue ?? agent.queue;
    if (connected) agent.lastQueueKey = tracked.queueKey;
    this.touchAgent(agentKey, agent, record.campaign ?? agent.campaign);
    this.refreshActivity(agentKey, agent, timeMs);
    if (tracked.queueKey !== undefined && this.queues.has(tracked.queueKey)) {
      this.joinQueue(agentKey, tracked.queueKey);
      this.servedOn.set(servedKey(agentKey, tracked.queueKey), this.day.dayOf(timeMs));
    }
  }

  private callEnded(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const { key, tracked } = this.track(scope, data, timeMs, text(event.source));
    const record = tracked.record;
    const answeredAt = text(data.answered_at) ?? record.connected_at;
    const answeredMs = answeredAt ? Date.parse(answeredAt) : timeMs;
    // A source that reports only the end of a served call: it was answered.
    this.countAnswered(tracked, answeredMs, seconds(data.wait_s));
    const endedMs = text(data.ended_at) ? Date.parse(String(data.ended_at)) : timeMs;
    const talk = seconds(data.talk_s) ?? (answeredAt ? Math.max(0, endedMs - answeredMs) : undefined);
    if (talk !== undefined) {
      this.count(tracked.queueKey, endedMs, (counts) => {
        counts.talk_total_ms += talk;
        counts.talked += 1;
      });
    }
    const agentName = text(data.agent) ?? record.agent;
    if (agentName !== null) {
      const agentKey = keyOf(scope, agentName);
      const agent = this.agents.get(agentKey);
      if (agent) {
        const today = this.agentDay(agent, endedMs);
        if (today) today.handled += 1;
        if (tracked.queueKey !== undefined) agent.lastQueueKey = tracked.queueKey;
        if (agent.call?.call_id === record.call_id) agent.call = null;
        this.refreshActivity(agentKey, agent, timeMs);
      }
    }
    this.forgetCall(key, tracked, timeMs);
  }

  /** An offer the agent did not take: the agent's phone stops ringing; the call waits again unless offered elsewhere. */
  private callMissed(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const { tracked } = this.track(scope, data, timeMs, text(event.source));
    const record = tracked.record;
    const agentName = String(data.agent);
    const agentKey = keyOf(scope, agentName);
    const missedMs = text(data.missed_at) ? Date.parse(String(data.missed_at)) : timeMs;
    tracked.offeredTo.delete(agentKey);
    if (record.state === 'offered' && tracked.offeredTo.size === 0) record.state = 'queued';
    if (record.agent === agentName && record.state !== 'connected') record.agent = null;
    const agent = this.agents.get(agentKey) ?? newAgent(agentName, 'available', event.time, scope, text(event.source));
    if (agent.call?.call_id === record.call_id && agent.call.state === 'offered') agent.call = null;
    const today = this.agentDay(agent, missedMs);
    if (today) today.missed += 1;
    this.touchAgent(agentKey, agent, record.campaign ?? agent.campaign);
    this.refreshActivity(agentKey, agent, timeMs);
  }

  /** `call.held` / `call.resumed`: the agent on the call is on hold, or back on the call. */
  private callHold(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const callId = String(data.call_id);
    const tracked = this.calls.get(keyOf(scope, callId));
    const agentName = text(data.agent) ?? tracked?.record.agent ?? null;
    if (tracked) tracked.touchedMs = Math.max(tracked.touchedMs, timeMs);
    if (agentName === null) return;
    const agentKey = keyOf(scope, agentName);
    const agent = this.agents.get(agentKey);
    if (agent?.call?.call_id !== callId || agent.call.state !== 'connected') return;
    agent.call.held = event.type === 'call.held';
    this.refreshActivity(agentKey, agent, timeMs);
  }

  /** The agents the call was still being offered to (but `keep`) stop ringing. */
  private endOffers(tracked: CallTracking, timeMs: number, keep?: string): void {
    for (const agentKey of tracked.offeredTo) {
      if (agentKey === keep) continue;
      const agent = this.agents.get(agentKey);
      if (agent?.call?.call_id !== tracked.record.call_id || agent.call.state !== 'offered') continue;
      agent.call = null;
      this.refreshActivity(agentKey, agent, timeMs);
    }
    tracked.offeredTo.clear();
  }

  private callAbandoned(event: AcceptedEvent, scope: RecordScope, timeMs: number): void {
    const data = event.data;
    const { key, tracked } = this.track(scope, data, timeMs, text(event.source));
    const record = tracked.record;
    const abandonedMs = text(data.abandoned_at) ? Date.parse(String(data.abandoned_at)) : timeMs;
    record.queued_at ??= text(data.queued_at);
    this.countOffered(tracked, record.queued_at ? Date.parse(record.queued_at) : abandonedMs);
    if (!tracked.answeredCounted) {
      const wait = seconds(data.wait_s) ?? (record.queued_at ? Math.max(0, abandonedMs - Date.parse(record.queued_at)) : 0);
      const short = wait < this.thresholds(record.queue ?? '').shortAbandonMs ? 1 : 0;
      this.count(tracked.queueKey, abandonedMs, (counts) => {
        counts.abandoned += 1;
        counts.short_abandons += short;
      });
    }
    this.forgetCall(key, tracked, timeMs);
  }

  /** The call is over (or its end was lost): its agent and any agent it rang are free of it from `timeMs`. */
  private forgetCall(key: string, tracked: CallTracking, timeMs: number): void {
    this.calls.delete(key);
    this.endOffers(tracked, timeMs);
    const agentName = tracked.record.agent;
    if (agentName === null) return;
    const agentKey = keyOf(tracked.record.scope, agentName);
    const agent = this.agents.get(agentKey);
    if (agent?.call?.call_id !== tracked.record.call_id) return;
    agent.call = null;
    this.refreshActivity(agentKey, agent, timeMs);
  }

  private sourceEvent(event: AcceptedEvent, timeMs: number): void {
    const data = event.data;
    const name = String(data.source);
    const record = this.sources.get(name) ?? { source: name, kind: null, last_resync: null, resync_reason: null, last_gap: null, gap_reason: null };
    record.kind = text(data.kind) ?? record.kind;
    if (event.type === 'source.gap') {
      record.last_gap = event.time;
      record.gap_reason = text(data.reason);
    } else {
      record.last_resync = event.time;
      record.resync_reason = text(data.reason);
      // The PBX restarted: every call it had is gone; its resync re-reports what still waits.
      if (data.reason === 'restarted') {
        for (const [key, tracked] of [...this.calls]) if (tracked.record.source === name) this.forgetCall(key, tracked, timeMs);
      }
    }
    this.sources.set(name, record);
  }

  /** Calls in progress (stale ones, whose end was never reported, left out). */
  *liveCalls(nowMs: number): Iterable<{ record: CallRecord; queueKey: string | undefined }> {
    const oldest = nowMs - this.config.staleCallMs;
    for (const tracked of this.calls.values()) if (tracked.touchedMs >= oldest) yield tracked;
  }

  /**
   * The daily reset (once per business day, from a timer; the first call after a start clears
   * what the replay left of earlier days): drops agents offline since before the day started,
   * calls with no event since then, the memberships that came from earlier days' calls (the
   * PBX's own lists stay), then queues with nothing today (no call counted, none in progress, no
   * agent). Sliced (./slicer.ts), so the event loop keeps answering; each step re-checks its
   * entity, which events may have touched in between.
   */
  async evictStale(nowMs: number): Promise<Evicted | undefined> {
    const today = this.day.dayOf(nowMs);
    if (today === this.evictedDay) return undefined;
    this.evictedDay = today;
    const startMs = this.day.startOf(nowMs);
    const evicted: Evicted = { day: today, agents: 0, queues: 0, calls: 0 };
    const slicer = new Slicer();
    for (const [key, tracked] of [...this.calls]) {
      if (slicer.due()) await slicer.pause();
      if (this.calls.get(key) !== tracked || tracked.touchedMs >= startMs) continue;
      this.forgetCall(key, tracked, nowMs);
      evicted.calls += 1;
    }
    for (const [key, agent] of [...this.agents]) {
      if (slicer.due()) await slicer.pause();
      if (this.agents.get(key) !== agent) continue;
      if (agent.status === 'offline' && Date.parse(agent.status_since) < startMs) {
        this.dropAgent(key);
        evicted.agents += 1;
      } else if (!this.listedByPbx.has(key)) {
        const current = agent.call?.queue ? keyOf(agent.scope, agent.call.queue) : undefined;
        for (const queueKey of [...(this.agentQueues.get(key) ?? [])]) {
          const day = this.servedOn.get(servedKey(key, queueKey));
          if (day !== undefined && day < today && queueKey !== current) this.leaveQueue(key, queueKey);
        }
      }
    }
    const withCalls = new Set<string | undefined>();
    for (const tracked of this.calls.values()) withCalls.add(tracked.queueKey);
    for (const [key, queue] of [...this.queues]) {
      if (slicer.due()) await slicer.pause();
      if (this.queues.get(key) !== queue || withCalls.has(key) || this.queueAgents.has(key)) continue;
      if (queue.counters.day >= today && queue.counters.offered + queue.counters.answered + queue.counters.abandoned > 0) continue;
      this.dropQueue(key);
      evicted.queues += 1;
    }
    return evicted;
  }
}

const HANDLED = new Set([
  'agent.status_changed',
  'call.queued',
  'call.offered',
  'call.connected',
  'call.ended',
  'call.abandoned',
  'call.missed',
  'call.held',
  'call.resumed',
  'cdr.created',
  'source.resynced',
  'source.gap',
]);
