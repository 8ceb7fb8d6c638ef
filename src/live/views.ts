import { AGENT_STATUSES } from '../events/catalogue.js';
import { ValidationError } from '../errors.js';
import { comparePositions } from '../log/reader.js';
import type { EventFilter } from '../stream/filter.js';
import { agentAlerts, listed, queueAlerts } from './alerts.js';
import { agentDayFigures, noQueueCounts, queueFigures, type QueueCounts } from './figures.js';
import { keyOf, SLOT_MS, type AgentRecord, type CallRecord, type LiveProjection, type QueueRecord, type RecordScope } from './projection.js';
import { Slicer } from './slicer.js';

/** Items per page of a /v1/live list: the default and the most a client may ask for (docs/live.md). */
export const PAGE_LIMIT_DEFAULT = 500;
export const PAGE_LIMIT_MAX = 5000;

export interface PageRequest {
  limit: number;
  /** `next_cursor` of the previous page; absent: the first page. */
  cursor?: string;
}

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

type StatusCounts = Record<string, number> & { total: number };

function emptyCounts(): StatusCounts {
  const counts: StatusCounts = { total: 0 };
  for (const status of AGENT_STATUSES) counts[status] = 0;
  return counts;
}

function countStatus(counts: StatusCounts, status: string): void {
  counts[status] = (counts[status] ?? 0) + 1;
  counts.total += 1;
}

/** A place in a listing: the sort value and the tenant-qualified key of the last item sent. */
type Place = readonly [value: string, key: string];

function encodeCursor(place: Place): string {
  return Buffer.from(JSON.stringify(place)).toString('base64url');
}

function decodeCursor(cursor: string | undefined): Place | undefined {
  if (cursor === undefined) return undefined;
  let place: unknown;
  try {
    place = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    place = undefined;
  }
  if (!Array.isArray(place) || place.length !== 2 || !place.every((part) => typeof part === 'string')) {
    throw new ValidationError('cursor is not a next_cursor this route gave', { details: [{ path: '/cursor', message: 'unknown cursor' }] });
  }
  return place as unknown as Place;
}

const collator = new Intl.Collator('en', { numeric: true });

/** A listing's order: by a value (`compare`), then by the tenant-qualified key, read only on a tie or an insert. */
interface Order<T> {
  value(item: T): string;
  key(item: T): string;
  compare(a: string, b: string): number;
}

const plain = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
/** Names in natural order (agent 2 before agent 10). */
const byName = collator.compare;
const newestFirst = (a: string, b: string) => comparePositions(b, a);

/**
 * One page of a listing, kept while the items go by once in any order: the `limit` first items
 * after the cursor in the listing's order, found without sorting everything (each item is
 * compared with the page's last one; only those that belong to the page are inserted).
 */
class PageBuilder<T> {
  private readonly entries: { place: Place; item: T }[] = [];
  private readonly after: Place | undefined;

  constructor(
    private readonly request: PageRequest,
    private readonly order: Order<T>,
  ) {
    this.after = decodeCursor(request.cursor);
  }

  private compare(value: string, item: T, place: Place): number {
    return this.order.compare(value, place[0]) || plain(this.order.key(item), place[1]);
  }

  offer(item: T): void {
    const value = this.order.value(item);
    if (this.after && this.compare(value, item, this.after) <= 0) return;
    const entries = this.entries;
    // One more than the page, to know whether a next page exists.
    const full = entries.length > this.request.limit;
    if (full && this.compare(value, item, (entries.at(-1) as { place: Place }).place) >= 0) return;
    const place: Place = [value, this.order.key(item)];
    let low = 0;
    let high = entries.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = (entries[middle] as { place: Place }).place;
      if ((this.order.compare(other[0], value) || plain(other[1], place[1])) < 0) low = middle + 1;
      else high = middle;
    }
    entries.splice(low, 0, { place, item });
    if (full) entries.pop();
  }

  result(): { items: T[]; next_cursor: string | null } {
    const page = this.entries.slice(0, this.request.limit);
    const last = page.at(-1);
    return { items: page.map((entry) => entry.item), next_cursor: this.entries.length > page.length && last ? encodeCursor(last.place) : null };
  }
}

/** Agents in natural order of their ids; `totals` by status over every visible agent, not only the page. */
export async function agentsView(projection: LiveProjection, filter: EventFilter, request: PageRequest, nowMs = Date.now()) {
  const head = stamp(projection, nowMs);
  const page = new PageBuilder<AgentRecord>(request, { value: (agent) => agent.agent, key: (agent) => keyOf(agent.scope, agent.agent), compare: byName });
  const totals = emptyCounts();
  const slicer = new Slicer();
  for (const agent of [...projection.agents.values()]) {
    if (slicer.due()) await slicer.pause();
    if (!visible(filter, agent.scope, agent.agent)) continue;
    countStatus(totals, agent.status);
    page.offer(agent);
  }
  const { items, next_cursor } = page.result();
  return { ...head, agents: items.map((agent) => agentItem(projection, agent, nowMs)), totals, sources: [...projection.sources.values()], next_cursor };
}

/** An agent as /v1/live/agents lists it: the catalogue status, the activity, today's figures and alerts. */
function agentItem(projection: LiveProjection, agent: AgentRecord, nowMs: number) {
  const today = projection.agentToday(agent, nowMs);
  const queues: string[] = [];
  for (const queueKey of projection.agentQueues.get(keyOf(agent.scope, agent.agent)) ?? []) {
    const queue = projection.queues.get(queueKey);
    if (queue) queues.push(queue.queue);
  }
  return {
    agent: agent.agent,
    name: agent.name,
    status: agent.status,
    status_since: agent.status_since,
    activity: agent.activity,
    activity_since: agent.activity_since,
    reason: agent.reason,
    campaign: agent.campaign,
    queue: agent.queue,
    queues: queues.sort(byName),
    call: agent.call,
    scope: agent.scope,
    source: agent.source,
    today: agentDayFigures(today.handled, today.missed, today.times),
    alerts: listed(agentAlerts(projection, agent, nowMs)),
  };
}

/** Calls in progress, longest waiting first. */
export async function callsView(projection: LiveProjection, filter: EventFilter, request: PageRequest, nowMs = Date.now()) {
  const head = stamp(projection, nowMs);
  const page = new PageBuilder<CallRecord>(request, { value: (call) => call.queued_at ?? call.offered_at ?? '', key: (call) => keyOf(call.scope, call.call_id), compare: plain });
  const slicer = new Slicer();
  for (const { record } of [...projection.liveCalls(nowMs)]) {
    if (slicer.due()) await slicer.pause();
    if (visible(filter, record.scope, record.agent)) page.offer(record);
  }
  const { items, next_cursor } = page.result();
  return { ...head, calls: items, next_cursor };
}

/** The latest CDRs (at most `live.latestCdrs`), newest first. */
export async function cdrsView(projection: LiveProjection, filter: EventFilter, request: PageRequest, nowMs = Date.now()) {
  const head = stamp(projection, nowMs);
  const page = new PageBuilder<(typeof projection.cdrs)[number]>(request, { value: (cdr) => cdr.position, key: () => '', compare: newestFirst });
  for (const cdr of projection.cdrs) if (visible(filter, cdr.scope, typeof cdr.event.data.agent === 'string' ? cdr.event.data.agent : null)) page.offer(cdr);
  const { items, next_cursor } = page.result();
  return { ...head, cdrs: items.map((cdr) => ({ position: cdr.position, ...cdr.event })), next_cursor };
}

const NOTHING_YET: QueueCounts = noQueueCounts();

/** Today's counters: zero when the queue's last counted day is over. */
const countersOn = (queue: QueueRecord, today: string): QueueCounts => (queue.counters.day < today ? NOTHING_YET : queue.counters);

/**
 * A queue's agents by status: its members (the PBX's list, or the queues they took calls from
 * today) and the agents of its campaign, each once. Read from the projection's indexes, so the
 * cost is the queue's own agents; a campaign's counts are computed once per answer.
 */
async function queueAgentCounts(projection: LiveProjection, filter: EventFilter, queue: QueueRecord, byCampaign: Map<string, StatusCounts>, slicer: Slicer): Promise<StatusCounts> {
  const countAgents = async (keys: Iterable<string>, skip: ReadonlySet<string> | undefined, counts: StatusCounts) => {
    for (const agentKey of [...keys]) {
      if (slicer.due()) await slicer.pause();
      if (skip?.has(agentKey)) continue;
      const agent = projection.agents.get(agentKey);
      if (agent && visible(filter, agent.scope, agent.agent)) countStatus(counts, agent.status);
    }
    return counts;
  };
  const campaignKey = queue.campaign === null ? undefined : keyOf(queue.scope, queue.campaign);
  const campaignAgents = campaignKey === undefined ? undefined : projection.campaignAgents.get(campaignKey);
  let counts = emptyCounts();
  if (campaignKey !== undefined && campaignAgents) {
    let campaign = byCampaign.get(campaignKey);
    if (!campaign) byCampaign.set(campaignKey, (campaign = await countAgents(campaignAgents, undefined, emptyCounts())));
    counts = { ...campaign };
  }
  return countAgents(projection.queueAgents.get(queue.key) ?? [], campaignAgents, counts);
}

/** Queues in natural order of their names, with today's figures; `totals` over every visible queue and agent. */
export async function queuesView(projection: LiveProjection, filter: EventFilter, request: PageRequest, nowMs = Date.now()) {
  const head = stamp(projection, nowMs);
  const today = projection.day.dayOf(nowMs);
  const slicer = new Slicer();
  const waitingByQueue = new Map<string, { waiting: number; oldest: string | null }>();
  for (const { record: call, queueKey } of [...projection.liveCalls(nowMs)]) {
    if (slicer.due()) await slicer.pause();
    if (queueKey === undefined || call.state === 'connected' || !visible(filter, call.scope)) continue;
    const entry = waitingByQueue.get(queueKey) ?? { waiting: 0, oldest: null };
    entry.waiting += 1;
    const since = call.queued_at ?? call.offered_at;
    if (since !== null && (entry.oldest === null || since < entry.oldest)) entry.oldest = since;
    waitingByQueue.set(queueKey, entry);
  }
  const totals = noQueueCounts();
  let waitingTotal = 0;
  let oldestTotal: string | null = null;
  const page = new PageBuilder<QueueRecord>(request, { value: (queue) => queue.queue, key: (queue) => queue.key, compare: byName });
  for (const record of [...projection.queues.values()]) {
    if (slicer.due()) await slicer.pause();
    if (!visible(filter, record.scope)) continue;
    const waiting = waitingByQueue.get(record.key);
    const counters = countersOn(record, today);
    for (const field of Object.keys(totals) as (keyof typeof totals)[]) totals[field] += counters[field];
    if (waiting) {
      waitingTotal += waiting.waiting;
      if (waiting.oldest !== null && (oldestTotal === null || waiting.oldest < oldestTotal)) oldestTotal = waiting.oldest;
    }
    page.offer(record);
  }
  // Agents once each, however many queues they serve.
  const agentTotals = emptyCounts();
  for (const agent of [...projection.agents.values()]) {
    if (slicer.due()) await slicer.pause();
    if (visible(filter, agent.scope, agent.agent)) countStatus(agentTotals, agent.status);
  }
  const { items, next_cursor } = page.result();
  const byCampaign = new Map<string, StatusCounts>();
  const queues = [];
  const formula = projection.config.serviceLevelFormula;
  for (const record of items) {
    const waiting = waitingByQueue.get(record.key) ?? { waiting: 0, oldest: null };
    const oldestMs = waiting.oldest === null ? undefined : Date.parse(waiting.oldest);
    const thresholds = projection.thresholds(record.queue);
    queues.push({
      queue: record.queue,
      campaign: record.campaign,
      scope: record.scope,
      waiting: waiting.waiting,
      longest_wait_since: waiting.oldest,
      max_wait_s: maxWait(oldestMs, nowMs),
      ...queueFigures(countersOn(record, today), formula),
      service_level_threshold_s: thresholds.serviceLevelMs / 1000,
      short_abandon_s: thresholds.shortAbandonMs / 1000,
      agents: await queueAgentCounts(projection, filter, record, byCampaign, slicer),
      alerts: listed(queueAlerts(projection, record, oldestMs, nowMs)),
    });
  }
  return {
    ...head,
    day: today,
    reset_time: projection.config.resetTime,
    time_zone: projection.config.timeZone,
    queues,
    totals: {
      waiting: waitingTotal,
      longest_wait_since: oldestTotal,
      max_wait_s: maxWait(oldestTotal === null ? undefined : Date.parse(oldestTotal), nowMs),
      ...queueFigures(totals, formula),
      agents: agentTotals,
    },
    next_cursor,
  };
}

/** Seconds the longest-waiting caller has waited (0 with nobody waiting). */
const maxWait = (oldestMs: number | undefined, nowMs: number) => (oldestMs === undefined ? 0 : Math.max(0, Math.round((nowMs - oldestMs) / 1000)));

/** `?size=` of /v1/live/intervals → its length in ms (multiples of the projection's SLOT_MS). */
export const INTERVAL_SIZES = { '15m': 15 * 60_000, '30m': 30 * 60_000, '60m': 60 * 60_000 } as const;
export type IntervalSize = keyof typeof INTERVAL_SIZES;

/**
 * Today's intervals per queue, from the business day's start to the interval in progress:
 * offered by the time callers joined, answered by answer time, abandoned by abandon time, each
 * interval's figures computed as the day's are. Queues in natural order of their names, one page.
 */
export async function intervalsView(projection: LiveProjection, filter: EventFilter, request: PageRequest & { size: IntervalSize }, nowMs = Date.now()) {
  const head = stamp(projection, nowMs);
  const { day, startMs } = projection.dayStartOf(nowMs);
  const sizeMs = INTERVAL_SIZES[request.size];
  const slotsPer = sizeMs / SLOT_MS;
  const count = Math.floor((nowMs - startMs) / sizeMs) + 1;
  const page = new PageBuilder<QueueRecord>(request, { value: (queue) => queue.queue, key: (queue) => queue.key, compare: byName });
  const slicer = new Slicer();
  for (const record of [...projection.queues.values()]) {
    if (slicer.due()) await slicer.pause();
    if (visible(filter, record.scope)) page.offer(record);
  }
  const { items, next_cursor } = page.result();
  const formula = projection.config.serviceLevelFormula;
  const queues = items.map((record) => {
    const sums = Array.from({ length: count }, () => noQueueCounts());
    if (record.counters.day === day) {
      for (const [slot, counts] of record.slots ?? []) {
        const interval = sums[Math.floor(slot / slotsPer)];
        if (!interval) continue;
        for (const field of Object.keys(counts) as (keyof QueueCounts)[]) interval[field] += counts[field];
      }
    }
    return {
      queue: record.queue,
      scope: record.scope,
      intervals: sums.map((counts, index) => {
        const { offered, answered, abandoned, abandon_rate_pct, service_level_pct, asa_s, aht_s } = queueFigures(counts, formula);
        const start = startMs + index * sizeMs;
        return { start: new Date(start).toISOString(), end: new Date(start + sizeMs).toISOString(), offered, answered, abandoned, abandon_rate_pct, service_level_pct, asa_s, aht_s };
      }),
    };
  });
  return { ...head, size: request.size, day, queues, next_cursor };
}
