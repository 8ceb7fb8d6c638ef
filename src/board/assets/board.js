// The supervisor wallboard: a snapshot of GET /v1/live/* read page by page, then the event stream
// applied on top. No framework: the page is a few lists re-rendered once per animation frame when
// they change. After an event it re-reads at most the queue pages that event touched, never a whole view.
import { readStream } from './sse.js';

const TOKEN_KEY = 'switchboard.readToken';
const STATUS_LABELS = {
  available: 'Available', busy: 'On a call', wrapup: 'Wrap-up', not_ready: 'Not ready', on_break: 'On break',
  logging_in: 'Logging in', logging_out: 'Logging out', offline: 'Offline',
};
const $ = (id) => document.getElementById(id);

const state = {
  token: sessionStorage.getItem(TOKEN_KEY),
  agents: new Map(),
  calls: new Map(),
  cdrs: [],
  /** Queue figures by name, and the page (its cursor) each came from, to re-read only that page. */
  queues: new Map(),
  queuePages: [],
  /** The queue answer's day, reset time, zone and totals (every page carries them). */
  queueSummary: undefined,
  /** Log position each part reflects: events at or before it are already in its snapshot. */
  positions: { agents: '0-0', calls: '0-0', cdrs: '0-0', queues: '0-0' },
  /** Where the stream resumes: the last id received. */
  position: undefined,
  /** Server clock minus ours, so time-in-state does not depend on the wall screen's clock. */
  skewMs: 0,
  dirty: new Set(),
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

function duration(sinceIso) {
  if (!sinceIso) return '';
  const total = Math.max(0, Math.floor((now() - Date.parse(sinceIso)) / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

class HubError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function get(path) {
  const response = await fetch(path, { headers: { authorization: `Bearer ${state.token}` }, cache: 'no-store' });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new HubError(response.status, body?.error?.message ?? `HTTP ${response.status}`);
  return body;
}

// ---------------------------------------------------------------- snapshot and events

const PAGE_LIMIT = 1000;
const pageUrl = (part, cursor, limit = PAGE_LIMIT) => `/v1/live/${part}?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
const oldest = (positions) => [...positions].sort(comparePositions)[0];

/** Every page of a list, following next_cursor: [{cursor, body}] in order. */
async function allPages(part) {
  const pages = [];
  let cursor = null;
  do {
    const body = await get(pageUrl(part, cursor));
    pages.push({ cursor, body });
    cursor = body.next_cursor;
  } while (cursor);
  return pages;
}

function takeQueuePage(cursor, body) {
  let page = state.queuePages.find((known) => known.cursor === cursor);
  if (!page) state.queuePages.push((page = { cursor, names: new Set() }));
  for (const name of page.names) state.queues.delete(name);
  page.names = new Set(body.queues.map((queue) => queue.queue));
  for (const queue of body.queues) state.queues.set(queue.queue, queue);
  page.next = body.next_cursor;
  state.queueSummary = { day: body.day, reset_time: body.reset_time, time_zone: body.time_zone, totals: body.totals };
}

async function loadQueues() {
  const pages = await allPages('queues');
  state.queues = new Map();
  state.queuePages = [];
  for (const { cursor, body } of pages) takeQueuePage(cursor, body);
  return oldest(pages.map((page) => page.body.position));
}

async function loadSnapshot() {
  const [agents, queuesPosition, calls, cdrs] = await Promise.all([allPages('agents'), loadQueues(), allPages('calls'), get(pageUrl('cdrs', null, 20))]);
  state.skewMs = Date.parse(agents[0].body.as_of) - Date.now();
  state.agents = new Map(agents.flatMap((page) => page.body.agents).map((agent) => [keyOf(agent.scope, agent.agent), agent]));
  state.calls = new Map(calls.flatMap((page) => page.body.calls).map((call) => [keyOf(call.scope, call.call_id), call]));
  state.cdrs = cdrs.cdrs;
  // Each part from its oldest page: events after it are applied again, which changes nothing.
  state.positions = { agents: oldest(agents.map((page) => page.body.position)), calls: oldest(calls.map((page) => page.body.position)), cdrs: cdrs.position, queues: queuesPosition };
  // Resume after the oldest of the four: each part skips what its snapshot already holds.
  state.position = oldest(Object.values(state.positions));
  markDirty('agents', 'calls', 'cdrs', 'queues');
}

/** The page that holds a queue, or would: the hub lists queues in natural order of their names. */
function queuePageOf(name) {
  const holding = state.queuePages.find((page) => page.names.has(name));
  if (holding) return holding;
  const first = (page) => [...page.names][0];
  return state.queuePages.findLast((page) => page.names.size > 0 && byName(first(page), name) <= 0) ?? state.queuePages[0];
}

const changedQueues = new Set();
let queuesTimer;
/**
 * Queue counters (service level, abandoned…) are the hub's figures: shortly after a call event,
 * re-read only the pages that hold the queues it named.
 */
function refreshQueuesSoon(queue, delayMs = 700) {
  changedQueues.add(queue ?? '');
  if (queuesTimer) return;
  queuesTimer = setTimeout(async () => {
    queuesTimer = undefined;
    const pages = new Set([...changedQueues].map(queuePageOf).filter(Boolean));
    changedQueues.clear();
    try {
      for (const page of pages) {
        const body = await get(pageUrl('queues', page.cursor));
        // A queue came or went and the pages' bounds moved: read them all again (rare: pages are long).
        if (body.next_cursor !== page.next) {
          await loadQueues();
          break;
        }
        takeQueuePage(page.cursor, body);
      }
      markDirty('queues');
    } catch {
      // The stream loop reports connection trouble.
    }
  }, delayMs);
}

/** Counters roll over at the day's reset with no event: the first page tells the day; a new one reloads them all. */
async function checkDay() {
  try {
    const first = await get(pageUrl('queues', null, 1));
    if (first.day !== state.queueSummary?.day) await loadQueues();
    else state.queueSummary = { ...state.queueSummary, totals: first.totals };
    markDirty('queues');
  } catch {
    // The stream loop reports connection trouble.
  }
}

function after(part, position) {
  if (comparePositions(position, state.positions[part]) <= 0) return false;
  state.positions[part] = position;
  return true;
}

function agentRecord(event, name) {
  const key = keyOf(event.scope, name);
  let agent = state.agents.get(key);
  if (!agent) {
    agent = { agent: name, name: null, status: 'available', status_since: event.time, call: null, scope: event.scope ?? {} };
    state.agents.set(key, agent);
  }
  return agent;
}

function applyEvent(position, event) {
  const data = event.data ?? {};
  switch (event.type) {
    case 'agent.status_changed': {
      if (!after('agents', position)) return;
      const agent = agentRecord(event, data.agent);
      if (agent.status !== data.status) agent.status_since = event.time;
      agent.status = data.status;
      if (data.name) agent.name = data.name;
      if (data.campaign) agent.campaign = data.campaign;
      if (data.status === 'offline' || data.status === 'logging_out') agent.call = null;
      markDirty('agents');
      return;
    }
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
      if (data.agent && after('agents', position)) {
        const agent = agentRecord(event, data.agent);
        agent.call = { call_id: data.call_id, state: event.type === 'call.connected' ? 'connected' : 'offered', since: event.time, queue: data.queue ?? null };
        markDirty('agents');
      }
      refreshQueuesSoon(data.queue);
      return;
    }
    case 'call.ended':
    case 'call.abandoned': {
      const key = keyOf(event.scope, data.call_id);
      const call = state.calls.get(key);
      if (after('calls', position)) {
        state.calls.delete(key);
        markDirty('calls', 'queues');
      }
      const agentName = data.agent ?? call?.agent;
      if (agentName && after('agents', position)) {
        const agent = state.agents.get(keyOf(event.scope, agentName));
        if (agent?.call?.call_id === data.call_id) agent.call = null;
        markDirty('agents');
      }
      refreshQueuesSoon(data.queue ?? call?.queue);
      return;
    }
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
  if (state.dirty.has('agents')) renderAgents();
  if (state.dirty.has('queues') || state.dirty.has('calls')) renderQueues();
  if (state.dirty.has('calls')) renderCalls();
  if (state.dirty.has('cdrs')) renderCdrs();
  state.dirty.clear();
}

function renderAgents() {
  const agents = [...state.agents.values()].sort((a, b) => byName(String(a.agent), String(b.agent)));
  const counts = {};
  for (const agent of agents) counts[agent.status] = (counts[agent.status] ?? 0) + 1;
  $('agent-counts').textContent = `${agents.length} · ${counts.available ?? 0} available · ${counts.busy ?? 0} on a call · ${counts.wrapup ?? 0} wrap-up`;
  $('agents').innerHTML = agents
    .map((agent) => {
      const call = agent.call ? `${agent.call.state === 'connected' ? 'on' : 'ringing'} ${escapeHtml(agent.call.call_id)}${agent.call.queue ? ` · ${escapeHtml(agent.call.queue)}` : ''}` : '';
      return `<div class="agent" data-agent="${escapeHtml(agent.agent)}" data-status="${escapeHtml(agent.status)}">
        <span class="name">${escapeHtml(agent.name ?? agent.agent)}</span>
        <span class="state">${escapeHtml(STATUS_LABELS[agent.status] ?? agent.status)}</span>
        <span class="call">${call}</span>
        <span class="since" data-since="${escapeHtml(agent.status_since)}">${duration(agent.status_since)}</span>
      </div>`;
    })
    .join('');
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

function figure(label, value, attributes = '') {
  return `<div class="figure"><b ${attributes}>${value}</b><span>${label}</span></div>`;
}

function renderQueues() {
  const snapshot = state.queueSummary;
  if (!snapshot) return;
  const waiting = waitingByQueue();
  const names = new Set([...state.queues.keys(), ...waiting.keys()]);
  const queues = state.queues;
  let waitingTotal = 0;
  $('day').textContent = `today from ${snapshot.reset_time} ${snapshot.time_zone}`;
  $('queues').innerHTML = [...names]
    .sort(byName)
    .map((name) => {
      const queue = queues.get(name) ?? {};
      const now = waiting.get(name) ?? { waiting: 0, oldest: null };
      waitingTotal += now.waiting;
      const sl = queue.service_level_pct ?? null;
      const alert = sl !== null && sl < 80 ? 'sl' : now.waiting > 0 ? 'waiting' : 'ok';
      return `<div class="queue" data-queue="${escapeHtml(name)}" data-alert="${alert}">
        <h3>${escapeHtml(name)}</h3>
        <div class="figures">
          ${figure('waiting', now.waiting, 'class="waiting"')}
          ${figure('longest wait', now.oldest ? duration(now.oldest) : '–', `class="longest" data-since="${escapeHtml(now.oldest ?? '')}"`)}
          ${figure(`SL ${queue.service_level_threshold_s ?? ''} s`, sl === null ? '–' : `${Math.round(sl)}%`, 'class="sl"')}
          ${figure('abandoned', queue.abandoned ?? 0, 'class="abandoned"')}
          ${figure('offered', queue.offered ?? 0)}
          ${figure('answered', queue.answered ?? 0)}
          ${figure('avg wait', queue.average_wait_s == null ? '–' : `${Math.round(queue.average_wait_s)} s`)}
          ${figure('avg talk', queue.average_talk_s == null ? '–' : `${Math.round(queue.average_talk_s)} s`)}
        </div>
      </div>`;
    })
    .join('');
  const totals = snapshot.totals;
  $('totals').innerHTML = [
    figure('waiting', waitingTotal),
    figure('available', totals.agents.available ?? 0),
    figure('on a call', totals.agents.busy ?? 0),
    figure('service level', totals.service_level_pct === null ? '–' : `${Math.round(totals.service_level_pct)}%`),
    figure('abandoned', totals.abandoned),
    figure('answered', totals.answered),
  ].join('');
}

function renderCalls() {
  const calls = [...state.calls.values()].sort((a, b) => String(a.queued_at ?? a.offered_at ?? '').localeCompare(String(b.queued_at ?? b.offered_at ?? '')));
  $('calls').innerHTML = calls
    .map((call) => {
      const since = call.state === 'connected' ? call.connected_at : (call.queued_at ?? call.offered_at);
      return `<tr data-call="${escapeHtml(call.call_id)}" data-state="${escapeHtml(call.state)}"><td>${escapeHtml(call.call_id)}</td><td>${escapeHtml(call.queue ?? '')}</td><td>${escapeHtml(call.state)}</td><td>${escapeHtml(call.agent ?? '')}</td><td data-since="${escapeHtml(since ?? '')}">${duration(since)}</td></tr>`;
    })
    .join('');
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
  while (state.token) {
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
    if (!state.token) break;
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
  $('signin').hidden = false;
  $('signin-error').textContent = message;
  $('token').focus();
}

function showBoard() {
  $('signin').hidden = true;
  $('board').hidden = false;
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

setInterval(tick, 1000);
// Counters roll over at the day's reset with no event: fetch them now and then regardless.
setInterval(() => state.token && state.queueSummary && checkDay(), 15_000);
if (state.token) showBoard();
else signOut();
