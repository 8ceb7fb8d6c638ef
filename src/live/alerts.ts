import { createHash } from 'node:crypto';
import type { LiveAlertCode, LiveAlertData } from '../events/catalogue.js';
import type { HubEventDraft } from '../log/hub-events.js';
import type { AgentRecord, LiveProjection, QueueRecord, RecordScope } from './projection.js';
import { round, serviceLevelPct } from './figures.js';

/** An alert as the live answers carry it. */
export interface LiveAlert {
  code: LiveAlertCode;
  since: string;
}

interface AlertFinding extends LiveAlert {
  value: number;
  threshold: number;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The agent's alerts at `nowMs`: after-call work, or not ready / on a break, for `live.alerts.*OverS` or longer. */
export function agentAlerts(projection: LiveProjection, agent: AgentRecord, nowMs: number): AlertFinding[] {
  const { afterCallWorkOverS, notReadyOverS } = projection.config.alerts;
  const limit = agent.activity === 'after_call_work' ? afterCallWorkOverS : agent.activity === 'not_ready' || agent.activity === 'on_break' ? notReadyOverS : undefined;
  if (limit === undefined) return [];
  const inStateMs = nowMs - agent.activitySinceMs;
  if (inStateMs < limit * 1000) return [];
  const code = agent.activity === 'after_call_work' ? 'after_call_work_over' : 'not_ready_over';
  return [{ code, since: iso(agent.activitySinceMs + limit * 1000), value: round(inStateMs / 1000), threshold: limit }];
}

/**
 * The queue's alerts at `nowMs`: today's service level under `alerts.serviceLevelBelowPct` (since
 * the event that took it under), and the longest-waiting caller (`oldestWaitingMs`, when it joined)
 * at `alerts.longestWaitOverS` or longer (since that caller crossed it).
 */
export function queueAlerts(projection: LiveProjection, queue: QueueRecord, oldestWaitingMs: number | undefined, nowMs: number): AlertFinding[] {
  const limits = projection.config.queues[queue.queue]?.alerts;
  const found: AlertFinding[] = [];
  if (limits?.serviceLevelBelowPct !== undefined && queue.slBelowSince !== null && queue.counters.day === projection.day.dayOf(nowMs)) {
    const value = serviceLevelPct(queue.counters, projection.config.serviceLevelFormula) ?? 0;
    found.push({ code: 'service_level_below', since: queue.slBelowSince, value, threshold: limits.serviceLevelBelowPct });
  }
  const waitLimit = limits?.longestWaitOverS;
  if (waitLimit !== undefined && oldestWaitingMs !== undefined && nowMs - oldestWaitingMs >= waitLimit * 1000) {
    found.push({ code: 'longest_wait_over', since: iso(oldestWaitingMs + waitLimit * 1000), value: round((nowMs - oldestWaitingMs) / 1000), threshold: waitLimit });
  }
  return found;
}

/** Without the value and threshold, as the live answers list them. */
export const listed = (findings: AlertFinding[]): LiveAlert[] => findings.map(({ code, since }) => ({ code, since }));

/**
 * Finds the alerts that began since the last check and makes a `live.alert` event of each
 * (docs/live.md, "Alerts"). Only the entities an alert can concern are looked at: agents in
 * after-call work, not ready or on a break, queues under their service level, and (when a queue
 * has `longestWaitOverS`) the callers waiting. The event's id and time derive from the alert
 * (its code, entity and since), so every hub node that follows the same log writes the same
 * event and the log keeps one (its dedup window).
 */
export class AlertWatcher {
  /** `code|entity key` of the alerts found by the last check. */
  private active = new Set<string>();
  /** Whether any queue has `longestWaitOverS`: the configuration is fixed once loaded, so asked once, not every check. */
  private readonly watchesWaits: boolean;

  constructor(private readonly projection: LiveProjection) {
    this.watchesWaits = Object.values(projection.config.queues).some((queue) => queue.alerts?.longestWaitOverS !== undefined);
  }

  /** The `live.alert` events of the alerts that began since the last check, for the hub's door (HubEvents.makeAll). */
  check(nowMs: number): HubEventDraft[] {
    const projection = this.projection;
    const found = new Set<string>();
    const events: HubEventDraft[] = [];
    const note = (key: string, scope: RecordScope, entity: { queue: string } | { agent: string }, finding: AlertFinding) => {
      const identity = `${finding.code}|${key}`;
      found.add(identity);
      if (this.active.has(identity)) return;
      const data: LiveAlertData = { code: finding.code, since: finding.since, ...entity, value: finding.value, threshold: finding.threshold };
      const id = `live:${createHash('sha256').update(`${identity}|${finding.since}`).digest('base64url').slice(0, 32)}`;
      const inScope = scope.reseller !== undefined || scope.domain !== undefined;
      events.push({ id, type: 'live.alert', time: finding.since, data, ...(inScope ? { scope: { ...scope } } : {}) });
    };
    for (const key of projection.timedAgents) {
      const agent = projection.agents.get(key);
      if (agent) for (const finding of agentAlerts(projection, agent, nowMs)) note(key, agent.scope, { agent: agent.agent }, finding);
    }
    const oldest = this.oldestWaiting(nowMs);
    const queueKeys = new Set([...projection.belowQueues, ...oldest.keys()]);
    for (const key of queueKeys) {
      const queue = projection.queues.get(key);
      if (queue) for (const finding of queueAlerts(projection, queue, oldest.get(key), nowMs)) note(key, queue.scope, { queue: queue.queue }, finding);
    }
    this.active = found;
    return events;
  }

  /** When the longest-waiting caller joined, per queue key, for the queues with a longest-wait alert. */
  private oldestWaiting(nowMs: number): Map<string, number> {
    const oldest = new Map<string, number>();
    const queues = this.projection.config.queues;
    if (!this.watchesWaits) return oldest;
    for (const { record, queueKey } of this.projection.liveCalls(nowMs)) {
      if (queueKey === undefined || record.state === 'connected' || queues[record.queue ?? '']?.alerts?.longestWaitOverS === undefined) continue;
      const since = record.queued_at ?? record.offered_at;
      if (since === null) continue;
      const sinceMs = Date.parse(since);
      if (sinceMs < (oldest.get(queueKey) ?? Infinity)) oldest.set(queueKey, sinceMs);
    }
    return oldest;
  }
}
