import { AGENT_STATUSES } from '../events/catalogue.js';
import type { EventFilter } from '../stream/filter.js';
import type { AgentRecord, CallRecord, LiveProjection, QueueCounters, RecordScope } from './projection.js';

/** What every live answer starts with: when it was computed and the log position it reflects. */
interface Stamp {
  as_of: string;
  position: string;
}

function stamp(projection: LiveProjection, nowMs: number): Stamp {
  return { as_of: new Date(nowMs).toISOString(), position: projection.position };
}

function visible(filter: EventFilter, scope: RecordScope, user?: string | null): boolean {
  return filter.allowsTenant({ reseller: scope.reseller, domain: scope.domain, user: user ?? undefined });
}

type StatusCounts = Record<string, number>;

function countStatuses(agents: Iterable<AgentRecord>): StatusCounts & { total: number } {
  const counts: StatusCounts & { total: number } = { total: 0 };
  for (const status of AGENT_STATUSES) counts[status] = 0;
  for (const agent of agents) {
    counts[agent.status] = (counts[agent.status] ?? 0) + 1;
    counts.total += 1;
  }
  return counts;
}

const round = (value: number, places = 1) => Math.round(value * 10 ** places) / 10 ** places;

export function agentsView(projection: LiveProjection, filter: EventFilter, nowMs = Date.now()) {
  const agents = [...projection.agents.values()].filter((agent) => visible(filter, agent.scope, agent.agent));
  agents.sort((a, b) => a.agent.localeCompare(b.agent, 'en', { numeric: true }));
  return {
    ...stamp(projection, nowMs),
    agents,
    totals: countStatuses(agents),
    sources: [...projection.sources.values()],
  };
}

export function callsView(projection: LiveProjection, filter: EventFilter, nowMs = Date.now()) {
  const calls: CallRecord[] = [];
  for (const { record } of projection.liveCalls(nowMs)) if (visible(filter, record.scope, record.agent)) calls.push(record);
  calls.sort((a, b) => (a.queued_at ?? a.offered_at ?? '').localeCompare(b.queued_at ?? b.offered_at ?? ''));
  return { ...stamp(projection, nowMs), calls };
}

export function cdrsView(projection: LiveProjection, filter: EventFilter, nowMs = Date.now()) {
  const cdrs = projection.cdrs
    .filter((cdr) => visible(filter, cdr.scope, typeof cdr.event.data.agent === 'string' ? cdr.event.data.agent : null))
    .map((cdr) => ({ position: cdr.position, ...cdr.event }))
    .reverse();
  return { ...stamp(projection, nowMs), cdrs };
}

function figures(counters: Omit<QueueCounters, 'day'>) {
  const { offered, answered, answered_within_sl, abandoned, short_abandons, wait_total_ms, talk_total_ms, talked } = counters;
  // Short abandons neither help nor hurt the service level.
  const slBase = answered + abandoned - short_abandons;
  return {
    offered,
    answered,
    answered_within_sl,
    abandoned,
    short_abandons,
    service_level_pct: slBase > 0 ? round((100 * answered_within_sl) / slBase) : null,
    average_wait_s: answered > 0 ? round(wait_total_ms / answered / 1000) : null,
    average_talk_s: talked > 0 ? round(talk_total_ms / talked / 1000) : null,
  };
}

export function queuesView(projection: LiveProjection, filter: EventFilter, nowMs = Date.now()) {
  const today = projection.day.dayOf(nowMs);
  const waitingByQueue = new Map<string, { waiting: number; oldest: string | null }>();
  for (const { record: call, queueKey } of projection.liveCalls(nowMs)) {
    if (queueKey === undefined || call.state === 'connected' || !visible(filter, call.scope)) continue;
    const entry = waitingByQueue.get(queueKey) ?? { waiting: 0, oldest: null };
    entry.waiting += 1;
    const since = call.queued_at ?? call.offered_at;
    if (since !== null && (entry.oldest === null || since < entry.oldest)) entry.oldest = since;
    waitingByQueue.set(queueKey, entry);
  }
  // An agent belongs to the queues it took calls from today and to its campaign's queues.
  const visibleAgents = [...projection.agents.entries()].filter(([, agent]) => visible(filter, agent.scope, agent.agent));
  const totals = { offered: 0, answered: 0, answered_within_sl: 0, abandoned: 0, short_abandons: 0, wait_total_ms: 0, talk_total_ms: 0, talked: 0 };
  let waitingTotal = 0;
  let oldestTotal: string | null = null;
  const queues = [];
  for (const record of projection.queueRecords(nowMs)) {
    if (!visible(filter, record.scope)) continue;
    const waiting = waitingByQueue.get(record.key) ?? { waiting: 0, oldest: null };
    const members = visibleAgents
      .filter(([key, agent]) => projection.agentQueues.get(key)?.has(record.key) || (record.campaign !== null && agent.campaign === record.campaign))
      .map(([, agent]) => agent);
    const thresholds = projection.thresholds(record.queue);
    for (const field of Object.keys(totals) as (keyof typeof totals)[]) totals[field] += record.counters[field];
    waitingTotal += waiting.waiting;
    if (waiting.oldest !== null && (oldestTotal === null || waiting.oldest < oldestTotal)) oldestTotal = waiting.oldest;
    queues.push({
      queue: record.queue,
      campaign: record.campaign,
      scope: record.scope,
      waiting: waiting.waiting,
      longest_wait_since: waiting.oldest,
      ...figures(record.counters),
      service_level_threshold_s: thresholds.serviceLevelMs / 1000,
      short_abandon_s: thresholds.shortAbandonMs / 1000,
      agents: countStatuses(members),
    });
  }
  queues.sort((a, b) => a.queue.localeCompare(b.queue, 'en', { numeric: true }));
  return {
    ...stamp(projection, nowMs),
    day: today,
    reset_time: projection.config.resetTime,
    time_zone: projection.config.timeZone,
    queues,
    // Agents once each, however many queues they serve.
    totals: { waiting: waitingTotal, longest_wait_since: oldestTotal, ...figures(totals), agents: countStatuses(visibleAgents.map(([, agent]) => agent)) },
  };
}
