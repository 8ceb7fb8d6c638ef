// The supervisor wallboard: a snapshot of GET /v1/live/* read page by page, then the event stream
// applied on top. No framework: the page is a few lists re-rendered once per animation frame when
// they change. An event shows at once where the page can tell its meaning (an offered call rings
// the agent's tile); the figures only the hub computes (today's counters, alerts) follow from
// re-reading just the pages that hold what the event named, moments later.
import { readStream } from './sse.js';

const TOKEN_KEY = 'switchboard.readToken';
const SOUND_KEY = 'switchboard.alertSound';
/** What the supervisor sees (the hub's `activity`), in the order "sort by status" lists them. */
const ACTIVITY_LABELS = {
  ringing: 'Ringing', on_call: 'On a call', on_hold: 'On hold', after_call_work: 'After-call work',
  available: 'Available', not_ready: 'Not ready', on_break: 'On break', offline: 'Offline',
};
const ACTIVITY_ORDER = Object.keys(ACTIVITY_LABELS);
/** The catalogue's status read as an activity, until the hub's own answer arrives. */
const ACTIVITY_OF_STATUS = {
  available: 'available', busy: 'on_call', wrapup: 'after_call_work', not_ready: 'not_ready', on_break: 'on_break', offline: 'offline', logging_out: 'offline',
};
const ALERT_LABELS = {
  service_level_below: 'Service level below target',
  longest_wait_over: 'A caller is waiting too long',
  after_call_work_over: 'After-call work too long',
  not_ready_over: 'Not ready too long',
};
/** Wait this long after an event before re-reading the hub's figures, so a burst costs one read. */
const COALESCE_MS = 50;
/** Re-read while the hub's answer is behind the event that asked for it, this many times at most. */
const BEHIND_RETRIES = 20;
const $ = (id) => document.getElementById(id);

const state = {
  /** null: signed out; '' when the hub requires no token. */
  token: sessionStorage.getItem(TOKEN_KEY),
  tokenRequired: true,
  calls: new Map(),
  cdrs: [],
  /** The queue answer's day, reset time, zone and totals (every page carries them). */
  queueSummary: undefined,
  intervals: undefined,
  /** Log position each part reflects: events at or before it are already in its snapshot. */
  positions: { calls: '0-0', cdrs: '0-0' },
  /** Where the stream resumes: the last id received. */
  position: undefined,
  /** Server clock minus ours, so time-in-state does not depend on the wall screen's clock. */
  skewMs: 0,
  dirty: new Set(),
  /** Alerts already announced (by subject, code and since), so each beeps once. */
  announced: new Set(),
  sound: sessionStorage.getItem(SOUND_KEY) === 'on',
};

function comparePositions(a, b) {
  const [aMs, aSeq] = a.split('-').map(Number);
  const [bMs, bSeq] = b.split('-').map(Number);
  return aMs - bMs || aSeq - bSeq;
}

/** Natural order (agent 2 before agent 10), as the hub lists them; one collator, not one per comparison. */
const byName = new Intl.Collator('en', { numeric: true }).compare;
const keyOf = (scope, name) => `${scope?.reseller ?? ''}/${scope?.domain ?? ''}/${name}`;
const now = () => Date.now() + state.skewMs;
const escapeHtml = (value) => String(value ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const oldest = (positions) => [...positions].sort(comparePositions)[0];

function clockOf(totalSeconds) {
  const total = Math.max(0, Math.floor(totalSeconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}
const duration = (sinceIso) => (sinceIso ? clockOf((now() - Date.parse(sinceIso)) / 1000) : '');
const seconds = (value) => (value == null ? '–' : clockOf(value));
const percent = (value) => (value == null ? '–' : `${Math.round(value)}%`);

/**
 * The contact centre's day that an instant belongs to, as src/live/business-day.ts names it: the
 * local date in the hub's zone, the day before when earlier than the reset time.
 */
const localFormats = new Map();
function dayOf(ms, resetTime, timeZone) {
  let format = localFormats.get(timeZone);
  if (!format) localFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-CA', { timeZone, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' })));
  const parts = {};
  for (const part of format.formatToParts(new Date(ms))) parts[part.type] = part.value;
  const [resetHours, resetMinutes] = resetTime.split(':').map(Number);
  const day = `${parts.year}-${parts.month}-${parts.day}`;
  if (Number(parts.hour) * 60 + Number(parts.minute) >= resetHours * 60 + resetMinutes) return day;
  const previous = new Date(`${day}T00:00:00Z`);
  previous.setUTCDate(previous.getUTCDate() - 1);
  return previous.toISOString().slice(0, 10);
}

class HubError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const authorization = () => (state.token ? { authorization: `Bearer ${state.token}` } : {});

async function get(path) {
  const response = await fetch(path, { headers: authorization(), cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new HubError(response.status, body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

// ---------------------------------------------------------------- lists read page by page

const PAGE_LIMIT = 1000;
/** `query`: the list's own parameters (`&size=…`), the same on every page. */
const pageUrl = (part, cursor, limit = PAGE_LIMIT, query = '') => `/v1/live/${part}?limit=${limit}${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;

/** Every page of a list, following next_cursor: [{cursor, body}] in order. */
async function allPages(part, query = '') {
  const pages = [];
  let cursor = null;
  do {
    const body = await get(pageUrl(part, cursor, PAGE_LIMIT, query));
    pages.push({ cursor, body });
    cursor = body.next_cursor;
  } while (cursor);
  return pages;
}

/**
 * A /v1/live list (agents or queues) held page by page, so that after an event only the page that
 * holds (or would hold) the item it names is read again. Each item remembers the log position it
 * reflects: an event at or before it is already in it, and an older page never overwrites it.
 */
class PagedList {
  constructor(part, nameOf, keyFor) {
    this.part = part;
    this.nameOf = nameOf;
    this.keyFor = keyFor;
    this.items = new Map();
    this.positions = new Map();
    this.pages = [];
    this.onPage = () => {};
  }

  /** Reads every page; answers the oldest position among them (events after it are applied again, harmlessly). */
  async load() {
    const pages = await allPages(this.part);
    this.items = new Map();
    this.positions = new Map();
    this.pages = [];
    for (const { cursor, body } of pages) this.take(cursor, body);
    return oldest(pages.map((page) => page.body.position));
  }

  take(cursor, body) {
    let page = this.pages.find((known) => known.cursor === cursor);
    if (!page) this.pages.push((page = { cursor, keys: new Set(), first: undefined, next: undefined }));
    const items = body[this.part];
    const keys = new Set(items.map(this.keyFor));
    for (const key of page.keys) {
      if (!keys.has(key) && comparePositions(body.position, this.positions.get(key) ?? '0-0') >= 0) this.items.delete(key);
    }
    for (const item of items) {
      const key = this.keyFor(item);
      if (comparePositions(body.position, this.positions.get(key) ?? '0-0') < 0) continue;
      this.items.set(key, item);
      this.positions.set(key, body.position);
    }
    page.keys = keys;
    page.first = items.length > 0 ? this.nameOf(items[0]) : undefined;
    page.next = body.next_cursor;
    this.onPage(body);
  }

  /** The page that holds an item, or would: the hub lists them in natural order of their names. */
  pageOf(key, name) {
    return this.pages.find((page) => page.keys.has(key)) ?? this.pages.findLast((page) => page.first !== undefined && byName(page.first, name) <= 0) ?? this.pages[0];
  }

  /** Applies an event to one item unless that item already reflects it; `change` returns false to skip. */
  apply(key, position, change) {
    if (comparePositions(position, this.positions.get(key) ?? '0-0') <= 0) return false;
    if (change() === false) return false;
    this.positions.set(key, position);
    return true;
  }
}

const agents = new PagedList('agents', (agent) => agent.agent, (agent) => keyOf(agent.scope, agent.agent));
const queues = new PagedList('queues', (queue) => queue.queue, (queue) => queue.queue);
queues.onPage = (body) => {
  state.queueSummary = { day: body.day, reset_time: body.reset_time, time_zone: body.time_zone, totals: body.totals };
};

async function loadIntervals() {
  const pages = await allPages('intervals', `&size=${encodeURIComponent($('interval-size').value)}`);
  state.intervals = pages.flatMap((page) => page.body.queues);
  markDirty('intervals');
}

async function loadSnapshot() {
  const [agentsPosition, queuesPosition, calls, cdrs] = await Promise.all([agents.load(), queues.load(), allPages('calls'), get(pageUrl('cdrs', null, 20))]);
  state.skewMs = Date.parse(calls[0].body.as_of) - Date.now();
  state.calls = new Map(calls.flatMap((page) => page.body.calls).map((call) => [keyOf(call.scope, call.call_id), call]));
  state.cdrs = cdrs.cdrs;
  // Each part from its oldest page: events after it are applied again, which changes nothing.
  state.positions = { calls: oldest(calls.map((page) => page.body.position)), cdrs: cdrs.position };
  // Resume after the oldest of them: each part skips what its snapshot already holds.
  state.position = oldest([agentsPosition, queuesPosition, ...Object.values(state.positions)]);
  await loadIntervals().catch(() => undefined);
  for (const alert of activeAlerts()) state.announced.add(alert.id);
  markDirty('agents', 'calls', 'cdrs', 'queues', 'intervals');
}

// ---------------------------------------------------------------- re-reading what an event changed

/** Per list: the items an event named, and the latest position the answer must reflect. */
const wanted = new Map();
let refreshTimer;
let refreshing = false;
let intervalsReadAt = 0;
let intervalsReadMs = 0;

/** Re-reads the page of an item an event named, unless that item already reflects the event. */
function refreshSoon(list, name, key, position) {
  if (name == null || comparePositions(position, list.positions.get(key) ?? '0-0') <= 0) return;
  let entry = wanted.get(list);
  if (!entry) wanted.set(list, (entry = { items: new Map(), position, tries: 0 }));
  entry.items.set(key ?? name, name);
  if (comparePositions(position, entry.position) > 0) entry.position = position;
  if (!refreshTimer && !refreshing) refreshTimer = setTimeout(refresh, COALESCE_MS);
}

async function refresh() {
  refreshTimer = undefined;
  refreshing = true;
  const work = [...wanted];
  wanted.clear();
  const dayShown = shownDay();
  try {
    for (const [list, entry] of work) {
      const pages = new Set([...entry.items].map(([key, name]) => list.pageOf(key, name)).filter(Boolean));
      for (const page of pages) {
        const body = await get(pageUrl(list.part, page.cursor));
        // Items came or went and the pages' bounds moved: read them all again (rare: pages are long).
        if (body.next_cursor !== page.next) {
          await list.load();
          break;
        }
        list.take(page.cursor, body);
        // The hub's projection had not reached the event yet: ask again shortly.
        if (comparePositions(body.position, entry.position) < 0 && entry.tries < BEHIND_RETRIES) {
          const again = wanted.get(list) ?? { items: new Map(), position: entry.position, tries: entry.tries + 1 };
          for (const [key, name] of entry.items) again.items.set(key, name);
          wanted.set(list, again);
        }
      }
    }
    // A re-read list redraws its own grid, not the other: a call event re-reads only its queue's
    // page. The agent grid also follows the queue answer's day (shownToday hides agents offline
    // since before it), and a chosen queue filter, which both grids honour, is reset by
    // renderFilters when a re-read drops that queue: then both are redrawn.
    const parts = new Set(work.map(([list]) => list.part));
    if (shownDay() !== dayShown) parts.add('agents');
    if ($('filter-queue').value) parts.add('agents').add('queues');
    markDirty(...parts);
    if (work.some(([list]) => list === queues)) refreshIntervalsSoon();
  } catch {
    // The stream loop reports connection trouble.
  }
  refreshing = false;
  if (wanted.size > 0) refreshTimer = setTimeout(refresh, COALESCE_MS);
}

let intervalsTimer;
/**
 * Today's intervals are read for every queue (the strip adds them up): at most once a second, and
 * less often when the answer is slow to build (a large floor), so it never dominates the hub; a
 * change inside that gap is read at its end.
 */
function refreshIntervalsSoon() {
  if (intervalsTimer) return;
  const waitMs = Math.max(0, intervalsReadAt + Math.max(1000, 4 * intervalsReadMs) - Date.now());
  intervalsTimer = setTimeout(async () => {
    intervalsReadAt = Date.now();
    try {
      await loadIntervals();
    } catch {
      // The stream loop reports connection trouble.
    }
    intervalsReadMs = Date.now() - intervalsReadAt;
    intervalsTimer = undefined;
  }, waitMs);
}

/** Counters roll over at the day's reset with no event: the first page tells the day; a new one reloads the lists. */
async function checkDay() {
  try {
    const first = await get(pageUrl('queues', null, 1));
    if (first.day !== state.queueSummary?.day) {
      await Promise.all([queues.load(), agents.load(), loadIntervals()]);
    } else state.queueSummary = { ...state.queueSummary, totals: first.totals };
    markDirty('queues', 'agents');
  } catch {
    // The stream loop reports connection trouble.
  }
}

// ---------------------------------------------------------------- events

function after(part, position) {
  if (comparePositions(position, state.positions[part]) <= 0) return false;
  state.positions[part] = position;
  return true;
}

/** The hub's activity, or the one the page derives from the status and call until the hub says. */
function activityOf(agent) {
  if (agent.activity) return agent.activity;
  return derivedActivity(agent);
}

function derivedActivity(agent) {
  if (agent.call?.state === 'offered' && (agent.status === 'available' || agent.status === 'busy')) return 'ringing';
  if (agent.call?.state === 'connected' && (agent.status === 'available' || agent.status === 'busy')) return 'on_call';
  return ACTIVITY_OF_STATUS[agent.status] ?? agent.activity ?? 'offline';
}

function setActivity(agent, time) {
  const activity = derivedActivity(agent);
  if (activity === activityOf(agent) && agent.activity_since) return;
  agent.activity = activity;
  agent.activity_since = time;
  if (activity !== 'not_ready' && activity !== 'on_break') agent.reason = null;
}

/** Applies an event to one agent, creating it when the snapshot did not know it. */
function changeAgent(event, position, name, change) {
  const key = keyOf(event.scope, name);
  refreshSoon(agents, name, key, position);
  const applied = agents.apply(key, position, () => {
    let agent = agents.items.get(key);
    if (!agent) {
      agent = { agent: name, name: null, status: 'available', status_since: event.time, call: null, scope: event.scope ?? {}, queues: [], alerts: [] };
      agents.items.set(key, agent);
    }
    return change(agent);
  });
  if (applied) markDirty('agents');
}

function addAlert(record, code, since) {
  record.alerts = [...(record.alerts ?? []).filter((alert) => alert.code !== code), { code, since }];
}

function applyEvent(position, event) {
  const data = event.data ?? {};
  switch (event.type) {
    case 'agent.status_changed':
      changeAgent(event, position, data.agent, (agent) => {
        if (agent.status !== data.status) agent.status_since = event.time;
        agent.status = data.status;
        if (data.name) agent.name = data.name;
        if (data.campaign) agent.campaign = data.campaign;
        if (data.queues) agent.queues = data.queues;
        if (data.status === 'offline' || data.status === 'logging_out') agent.call = null;
        setActivity(agent, event.time);
        if (data.reason) agent.reason = data.reason;
      });
      return;
    case 'call.queued':
    case 'call.offered':
    case 'call.connected': {
      const key = keyOf(event.scope, data.call_id);
      if (after('calls', position)) {
        const call = state.calls.get(key) ?? { call_id: data.call_id, state: 'queued', queued_at: null, offered_at: null, connected_at: null, scope: event.scope ?? {} };
        call.queue = data.queue ?? call.queue ?? null;
        call.campaign = data.campaign ?? call.campaign ?? null;
        if (event.type === 'call.queued') call.queued_at ??= data.queued_at ?? event.time;
        if (event.type === 'call.offered' && call.state !== 'connected') {
          call.state = 'offered';
          call.offered_at = event.time;
        }
        if (event.type === 'call.connected') {
          call.state = 'connected';
          call.connected_at ??= event.time;
        }
        if (data.agent) call.agent = data.agent;
        state.calls.set(key, call);
        markDirty('calls', 'queues');
      }
      if (data.agent) {
        changeAgent(event, position, data.agent, (agent) => {
          agent.call = { call_id: data.call_id, state: event.type === 'call.connected' ? 'connected' : 'offered', since: event.time, queue: data.queue ?? null };
          setActivity(agent, event.time);
        });
      }
      refreshSoon(queues, data.queue, data.queue, position);
      return;
    }
    case 'call.held':
    case 'call.resumed': {
      const holder = data.agent ?? state.calls.get(keyOf(event.scope, data.call_id))?.agent;
      if (holder) {
        changeAgent(event, position, holder, (agent) => {
          agent.activity = event.type === 'call.held' ? 'on_hold' : 'on_call';
          agent.activity_since = event.time;
        });
      }
      return;
    }
    case 'call.missed':
    case 'call.ended':
    case 'call.abandoned': {
      const key = keyOf(event.scope, data.call_id);
      const call = state.calls.get(key);
      if (after('calls', position)) {
        // A missed offer puts the caller back to waiting for the next agent.
        if (event.type === 'call.missed' && call) Object.assign(call, { state: 'queued', agent: null });
        else state.calls.delete(key);
        markDirty('calls', 'queues');
      }
      const agentName = data.agent ?? call?.agent;
      if (agentName) {
        changeAgent(event, position, agentName, (agent) => {
          if (agent.call?.call_id !== data.call_id) return false;
          agent.call = null;
          setActivity(agent, event.time);
          return true;
        });
      }
      refreshSoon(queues, data.queue ?? call?.queue, data.queue ?? call?.queue, position);
      return;
    }
    case 'live.alert':
      // Shown at once; the re-read page brings the hub's full list (and drops alerts that ended).
      if (data.agent) changeAgent(event, position, data.agent, (agent) => addAlert(agent, data.code, data.since));
      if (data.queue) {
        const queue = queues.items.get(data.queue);
        refreshSoon(queues, data.queue, data.queue, position);
        if (queue && queues.apply(data.queue, position, () => addAlert(queue, data.code, data.since))) markDirty('queues');
      }
      return;
    case 'cdr.created':
      if (!after('cdrs', position)) return;
      state.cdrs.unshift({ position, ...event });
      state.cdrs.length = Math.min(state.cdrs.length, 20);
      markDirty('cdrs');
      return;
    default:
  }
}

// ---------------------------------------------------------------- rendering

function markDirty(...parts) {
  for (const part of parts) state.dirty.add(part);
  requestAnimationFrame(render);
}

function render() {
  if (state.dirty.size === 0) return;
  if (state.dirty.has('queues') || state.dirty.has('agents')) renderFilters();
  if (state.dirty.has('agents')) renderAgents();
  if (state.dirty.has('queues') || state.dirty.has('calls')) renderQueues();
  if (state.dirty.has('queues') || state.dirty.has('calls') || state.dirty.has('agents')) renderTotals();
  if (state.dirty.has('intervals')) renderIntervals();
  if (state.dirty.has('queues') || state.dirty.has('agents')) renderAlerts();
  if (state.dirty.has('calls')) renderCalls();
  if (state.dirty.has('cdrs')) renderCdrs();
  state.dirty.clear();
}

/** What of the queue answer shownToday reads: the day, its reset time and zone. */
const shownDay = () => [state.queueSummary?.day, state.queueSummary?.reset_time, state.queueSummary?.time_zone].join(' ');

/** Agents who went offline before today's reset belong to an earlier day: not shown. */
function shownToday(agent) {
  const summary = state.queueSummary;
  if (activityOf(agent) !== 'offline' || !summary) return true;
  const since = agent.activity_since ?? agent.status_since;
  return !since || dayOf(Date.parse(since), summary.reset_time, summary.time_zone) >= summary.day;
}

const queuesOfAgent = (agent) => new Set([...(agent.queues ?? []), agent.queue, agent.call?.queue].filter(Boolean));

function renderFilters() {
  const select = $('filter-queue');
  const names = new Set(queues.items.keys());
  for (const agent of agents.items.values()) for (const queue of queuesOfAgent(agent)) names.add(queue);
  const sorted = [...names].sort(byName);
  const known = [...select.options].slice(1).map((option) => option.value);
  if (known.join('\n') === sorted.join('\n')) return;
  const chosen = select.value;
  select.innerHTML = `<option value="">All queues</option>${sorted.map((name) => `<option value="${escapeHtml(name)}">${escapeHtml(name)}</option>`).join('')}`;
  select.value = names.has(chosen) ? chosen : '';
}

const SORTS = {
  name: (a, b) => byName(String(a.agent), String(b.agent)),
  activity: (a, b) => ACTIVITY_ORDER.indexOf(activityOf(a)) - ACTIVITY_ORDER.indexOf(activityOf(b)) || SORTS.name(a, b),
  time: (a, b) => String(a.activity_since ?? a.status_since).localeCompare(String(b.activity_since ?? b.status_since)) || SORTS.name(a, b),
  handled: (a, b) => (b.today?.handled ?? 0) - (a.today?.handled ?? 0) || SORTS.name(a, b),
  aht: (a, b) => (b.today?.aht_s ?? -1) - (a.today?.aht_s ?? -1) || SORTS.name(a, b),
};

function renderAgents() {
  const queueFilter = $('filter-queue').value;
  const activityFilter = $('filter-activity').value;
  const today = [...agents.items.values()].filter(shownToday);
  const counts = {};
  for (const agent of today) counts[activityOf(agent)] = (counts[activityOf(agent)] ?? 0) + 1;
  state.activityCounts = counts;
  const shown = today
    .filter((agent) => (!queueFilter || queuesOfAgent(agent).has(queueFilter)) && (!activityFilter || activityOf(agent) === activityFilter))
    .sort(SORTS[$('sort').value] ?? SORTS.name);
  $('agent-counts').textContent = `${shown.length} of ${today.length} · ${counts.available ?? 0} available · ${counts.ringing ?? 0} ringing · ${(counts.on_call ?? 0) + (counts.on_hold ?? 0)} on a call · ${counts.after_call_work ?? 0} after-call work · ${(counts.not_ready ?? 0) + (counts.on_break ?? 0)} not ready or on break`;
  patch(
    $('agents'),
    shown.map((agent) => {
      const activity = activityOf(agent);
      const since = agent.activity_since ?? agent.status_since;
      const call = agent.call ? `${escapeHtml(agent.call.call_id)}${agent.call.queue ? ` · ${escapeHtml(agent.call.queue)}` : ''}` : '';
      const reason = agent.reason && (activity === 'not_ready' || activity === 'on_break') ? ` · ${escapeHtml(agent.reason)}` : '';
      const alerts = agent.alerts ?? [];
      const today = agent.today;
      const html = `<article class="agent" data-agent="${escapeHtml(agent.agent)}" data-activity="${escapeHtml(activity)}" data-status="${escapeHtml(agent.status)}"${alerts.length ? ` data-alert="${escapeHtml(alerts.map((alert) => alert.code).join(' '))}"` : ''}>
        <h3 class="name">${escapeHtml(agent.name ?? agent.agent)}</h3>
        <span class="state">${escapeHtml(ACTIVITY_LABELS[activity] ?? activity)}${reason}</span>
        ${alerts.map((alert) => `<span class="badge">${escapeHtml(ALERT_LABELS[alert.code] ?? alert.code)}</span>`).join('')}
        <span class="call">${call}</span>
        <span class="since" data-since="${escapeHtml(since)}"></span>
        <span class="today">${today ? `${today.handled} handled · AHT ${seconds(today.aht_s)}` : ''}</span>
      </article>`;
      return { key: keyOf(agent.scope, agent.agent), html };
    }),
  );
}

function waitingByQueue() {
  const waiting = new Map();
  for (const call of state.calls.values()) {
    if (call.state === 'connected' || !call.queue) continue;
    const entry = waiting.get(call.queue) ?? { waiting: 0, oldest: null };
    entry.waiting += 1;
    const since = call.queued_at ?? call.offered_at;
    if (since && (!entry.oldest || since < entry.oldest)) entry.oldest = since;
    waiting.set(call.queue, entry);
  }
  return waiting;
}

/**
 * Puts one element per entry into `container`, in order, rebuilding only those whose markup
 * changed: a change on a floor of thousands of agents costs its own tiles, not a page's layout.
 * Times in state are left out of the markup (tick() writes them), so they change nothing here.
 */
function patch(container, entries) {
  const built = tiles.get(container) ?? new Map();
  const next = new Map();
  let child = container.firstElementChild;
  for (const { key, html } of entries) {
    let tile = built.get(key);
    if (!tile || tile.html !== html) {
      const template = document.createElement('template');
      template.innerHTML = html;
      const element = template.content.firstElementChild;
      for (const timed of element.querySelectorAll('[data-since]')) if (timed.getAttribute('data-since')) timed.textContent = duration(timed.getAttribute('data-since'));
      if (tile) tile.element.replaceWith(element);
      if (child === tile?.element) child = element;
      tile = { html, element };
    }
    next.set(key, tile);
    if (child === tile.element) child = child.nextElementSibling;
    else container.insertBefore(tile.element, child);
  }
  while (child) {
    const extra = child;
    child = child.nextElementSibling;
    extra.remove();
  }
  tiles.set(container, next);
}
const tiles = new WeakMap();

function figure(label, value, attributes = '') {
  return `<div class="figure"><b ${attributes}>${value}</b><span>${label}</span></div>`;
}

function renderQueues() {
  const summary = state.queueSummary;
  if (!summary) return;
  const waiting = waitingByQueue();
  const queueFilter = $('filter-queue').value;
  const names = [...new Set([...queues.items.keys(), ...waiting.keys()])].filter((name) => !queueFilter || name === queueFilter);
  $('day').textContent = `today from ${summary.reset_time} ${summary.time_zone}`;
  patch(
    $('queues'),
    names.sort(byName).map((name) => {
      const queue = queues.items.get(name) ?? {};
      const current = waiting.get(name) ?? { waiting: 0, oldest: null };
      const alerts = queue.alerts ?? [];
      const html = `<article class="queue" data-queue="${escapeHtml(name)}"${alerts.length ? ` data-alert="${escapeHtml(alerts.map((alert) => alert.code).join(' '))}"` : ''}>
        <h3>${escapeHtml(name)}</h3>
        ${alerts.map((alert) => `<span class="badge">${escapeHtml(ALERT_LABELS[alert.code] ?? alert.code)}</span>`).join('')}
        <div class="figures">
          ${figure('waiting', current.waiting, 'class="waiting"')}
          ${figure('longest wait', current.oldest ? '' : '–', `class="longest" data-since="${escapeHtml(current.oldest ?? '')}"`)}
          ${figure(`SL ${queue.service_level_threshold_s ?? '–'} s`, percent(queue.service_level_pct), 'class="sl"')}
          ${figure('abandon rate', percent(queue.abandon_rate_pct), 'class="abandon-rate"')}
          ${figure('offered', queue.offered ?? 0, 'class="offered"')}
          ${figure('answered', queue.answered ?? 0, 'class="answered"')}
          ${figure('abandoned', queue.abandoned ?? 0, 'class="abandoned"')}
          ${figure('max wait', seconds(queue.max_wait_s), 'class="max-wait"')}
          ${figure('ASA', seconds(queue.asa_s), 'class="asa"')}
          ${figure('AHT', seconds(queue.aht_s), 'class="aht"')}
        </div>
      </article>`;
      return { key: name, html };
    }),
  );
}

function renderTotals() {
  const summary = state.queueSummary;
  if (!summary) return;
  let waitingTotal = 0;
  for (const entry of waitingByQueue().values()) waitingTotal += entry.waiting;
  const totals = summary.totals;
  const counts = state.activityCounts ?? {};
  $('totals').innerHTML = [
    figure('waiting', waitingTotal, 'class="waiting"'),
    figure('available', counts.available ?? 0, 'class="available"'),
    figure('on a call', (counts.on_call ?? 0) + (counts.on_hold ?? 0), 'class="on-call"'),
    figure('service level', percent(totals.service_level_pct), 'class="sl"'),
    figure('abandon rate', percent(totals.abandon_rate_pct), 'class="abandon-rate"'),
    figure('answered', totals.answered, 'class="answered"'),
    figure('abandoned', totals.abandoned, 'class="abandoned"'),
  ].join('');
}

/**
 * One queue's intervals, or all queues' added up. Across queues the service level is each
 * queue's weighted by its answered and abandoned calls: the intervals do not carry the counts
 * behind each queue's figure (short abandons), so this is the closest the page can add up.
 */
function intervalRows() {
  const queueFilter = $('filter-queue').value;
  const chosen = (state.intervals ?? []).filter((queue) => !queueFilter || queue.queue === queueFilter);
  const byStart = new Map();
  for (const queue of chosen) {
    for (const interval of queue.intervals) {
      const row = byStart.get(interval.start) ?? { start: interval.start, offered: 0, answered: 0, abandoned: 0, slWeighted: 0, slWeight: 0 };
      row.offered += interval.offered;
      row.answered += interval.answered;
      row.abandoned += interval.abandoned;
      if (interval.service_level_pct != null) {
        const weight = interval.answered + interval.abandoned;
        row.slWeighted += interval.service_level_pct * weight;
        row.slWeight += weight;
      }
      byStart.set(interval.start, row);
    }
  }
  return [...byStart.values()].sort((a, b) => a.start.localeCompare(b.start));
}

function renderIntervals() {
  const summary = state.queueSummary;
  const rows = intervalRows();
  $('intervals-of').textContent = $('filter-queue').value || 'all queues';
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: summary?.time_zone ?? 'UTC', hour: '2-digit', minute: '2-digit' });
  const line = (label, cell) => `<tr><th scope="row">${label}</th>${rows.map((row) => `<td>${cell(row)}</td>`).join('')}</tr>`;
  $('intervals').innerHTML =
    rows.length === 0
      ? '<tr><td>No calls yet today.</td></tr>'
      : [
          `<tr><th scope="row">From</th>${rows.map((row) => `<th scope="col">${escapeHtml(time.format(new Date(row.start)))}</th>`).join('')}</tr>`,
          line('Offered', (row) => row.offered),
          line('Answered', (row) => row.answered),
          line('Abandoned', (row) => row.abandoned),
          line('SL', (row) => percent(row.slWeight > 0 ? row.slWeighted / row.slWeight : null)),
        ].join('');
  // The latest interval in view: the strip scrolls on a narrow screen.
  const scroll = $('intervals-scroll');
  scroll.scrollLeft = scroll.scrollWidth;
}

function activeAlerts() {
  const alerts = [];
  for (const queue of queues.items.values()) {
    for (const alert of queue.alerts ?? []) alerts.push({ ...alert, id: `queue/${queue.queue}/${alert.code}/${alert.since}`, subject: `Queue ${queue.queue}`, queue: queue.queue });
  }
  for (const agent of agents.items.values()) {
    for (const alert of agent.alerts ?? []) alerts.push({ ...alert, id: `agent/${keyOf(agent.scope, agent.agent)}/${alert.code}/${alert.since}`, subject: `Agent ${agent.name ?? agent.agent}`, agent: agent.agent });
  }
  return alerts.sort((a, b) => String(a.since).localeCompare(String(b.since)));
}

function renderAlerts() {
  const alerts = activeAlerts();
  $('alerts-section').hidden = alerts.length === 0;
  $('alerts').innerHTML = alerts
    .map((alert) => `<li data-code="${escapeHtml(alert.code)}"${alert.queue ? ` data-queue="${escapeHtml(alert.queue)}"` : ` data-agent="${escapeHtml(alert.agent)}"`}><b>${escapeHtml(ALERT_LABELS[alert.code] ?? alert.code)}</b> · ${escapeHtml(alert.subject)} · for <span data-since="${escapeHtml(alert.since)}">${duration(alert.since)}</span></li>`)
    .join('');
  const fresh = alerts.filter((alert) => !state.announced.has(alert.id));
  for (const alert of fresh) state.announced.add(alert.id);
  if (fresh.length > 0 && state.sound) beep();
}

function renderCalls() {
  const calls = [...state.calls.values()].sort((a, b) => String(a.queued_at ?? a.offered_at ?? '').localeCompare(String(b.queued_at ?? b.offered_at ?? '')));
  patch(
    $('calls'),
    calls.map((call) => {
      const since = call.state === 'connected' ? call.connected_at : (call.queued_at ?? call.offered_at);
      const html = `<tr data-call="${escapeHtml(call.call_id)}" data-state="${escapeHtml(call.state)}"><td>${escapeHtml(call.call_id)}</td><td>${escapeHtml(call.queue ?? '')}</td><td>${escapeHtml(call.state)}</td><td>${escapeHtml(call.agent ?? '')}</td><td data-since="${escapeHtml(since ?? '')}"></td></tr>`;
      return { key: keyOf(call.scope, call.call_id), html };
    }),
  );
}

function renderCdrs() {
  $('cdrs').innerHTML = state.cdrs
    .map((cdr) => {
      const data = cdr.data ?? {};
      const time = new Date(data.ended_at ?? cdr.time).toLocaleTimeString();
      return `<tr data-cdr="${escapeHtml(data.call_id)}"><td>${escapeHtml(time)}</td><td>${escapeHtml(data.number)}</td><td>${escapeHtml(data.disposition)}</td><td>${escapeHtml(data.agent ?? '')}</td><td>${data.talk_s == null ? '' : `${Math.round(data.talk_s)} s`}</td></tr>`;
    })
    .join('');
}

/** Every second: the clock and every time-in-state, without rebuilding the lists. */
function tick() {
  $('clock').textContent = new Date(now()).toLocaleTimeString();
  for (const element of document.querySelectorAll('[data-since]')) {
    const since = element.getAttribute('data-since');
    if (since) element.textContent = duration(since);
  }
}

// ---------------------------------------------------------------- sound

let audio;
/** A short two-tone beep, made by WebAudio (no sound file to ship); browsers allow it after a click. */
function beep() {
  if (!audio) return;
  const start = audio.currentTime;
  for (const [offset, frequency] of [[0, 880], [0.18, 660]]) {
    const tone = audio.createOscillator();
    const gain = audio.createGain();
    tone.frequency.value = frequency;
    gain.gain.setValueAtTime(0.2, start + offset);
    gain.gain.exponentialRampToValueAtTime(0.001, start + offset + 0.15);
    tone.connect(gain).connect(audio.destination);
    tone.start(start + offset);
    tone.stop(start + offset + 0.16);
  }
}

function showSound() {
  $('sound').setAttribute('aria-pressed', String(state.sound));
  $('sound').textContent = state.sound ? 'Sound on' : 'Sound off';
}

$('sound').addEventListener('click', () => {
  state.sound = !state.sound;
  sessionStorage.setItem(SOUND_KEY, state.sound ? 'on' : 'off');
  audio ??= new globalThis.AudioContext();
  void audio.resume();
  showSound();
  if (state.sound) beep();
});

// ---------------------------------------------------------------- connection

function setConnection(connection, text = connection) {
  const element = $('connection');
  element.dataset.state = connection;
  element.textContent = text;
}

let stopStream;
let running = false;

async function run() {
  if (running) return;
  running = true;
  let needSnapshot = true;
  let delayMs = 500;
  while (state.token !== null) {
    const abort = new AbortController();
    stopStream = () => abort.abort();
    try {
      if (needSnapshot) {
        setConnection('connecting', 'loading');
        await loadSnapshot();
        needSnapshot = false;
      } else {
        await checkDay();
      }
      const url = `/v1/stream?after=${encodeURIComponent(state.position)}`;
      await readStream(url, state.token, {
        signal: abort.signal,
        onPosition: (id) => {
          state.position = id;
          delayMs = 500;
          setConnection('live');
        },
        onMessage: ({ id, event, data }) => {
          if (event === 'stream.gap') {
            // Events were trimmed from the log while we were away: start again from a snapshot.
            needSnapshot = true;
            abort.abort();
            return;
          }
          if (id === undefined) return;
          try {
            applyEvent(id, JSON.parse(data));
          } catch {
            // An event this page cannot read changes nothing.
          }
        },
      });
    } catch (error) {
      if (error.status === 401 || error.status === 403) {
        signOut(error.status === 401 ? 'The hub did not accept this token.' : 'This token lacks the read role.');
        break;
      }
    }
    if (state.token === null) break;
    // The stream ended (hub restart, network): resume from the last position, no page reload.
    setConnection('reconnecting');
    await new Promise((resolve) => setTimeout(resolve, delayMs));
    delayMs = Math.min(delayMs * 2, 5000);
  }
  running = false;
}

function signOut(message = '') {
  sessionStorage.removeItem(TOKEN_KEY);
  state.token = null;
  stopStream?.();
  $('board').hidden = true;
  $('signin-page').hidden = false;
  $('signin-error').textContent = message;
  $('token').focus();
}

function showBoard() {
  $('signin-page').hidden = true;
  $('board').hidden = false;
  $('signout').hidden = !state.tokenRequired;
  void run();
}

$('signin').addEventListener('submit', async (submit) => {
  submit.preventDefault();
  state.token = $('token').value.trim();
  try {
    await get(pageUrl('agents', null, 1));
  } catch (error) {
    if (error.status === 401 || error.status === 403) {
      signOut(error.status === 401 ? 'The hub did not accept this token.' : 'This token lacks the read role.');
      return;
    }
  }
  sessionStorage.setItem(TOKEN_KEY, state.token);
  $('token').value = '';
  showBoard();
});
$('signout').addEventListener('click', () => signOut());
for (const id of ['filter-queue', 'filter-activity', 'sort']) $(id).addEventListener('change', () => markDirty('agents', 'queues', 'intervals'));
$('interval-size').addEventListener('change', () => void loadIntervals().catch(() => undefined));

/** The hub says whether it checks tokens; one that does not gets no sign-in form. */
async function start() {
  try {
    const response = await fetch('/board/access', { cache: 'no-store' });
    state.tokenRequired = (await response.json()).token_required !== false;
  } catch {
    state.tokenRequired = true;
  }
  if (!state.tokenRequired) state.token = '';
  if (state.token !== null) showBoard();
  else signOut();
}

showSound();
setInterval(tick, 1000);
// Counters roll over at the day's reset with no event: fetch them now and then regardless.
setInterval(() => state.token !== null && state.queueSummary && checkDay(), 15_000);
void start();
