import type { LiveConfig } from '../config/schema.js';

/** What the supervisor sees an agent doing (docs/live.md, "Agent activity"); `status` stays the catalogue's. */
export const ACTIVITIES = ['available', 'ringing', 'on_call', 'on_hold', 'after_call_work', 'not_ready', 'on_break', 'offline'] as const;
export type Activity = (typeof ACTIVITIES)[number];

/** Milliseconds spent in each activity. */
export type ActivityTimes = Record<Activity, number>;

export function noActivityTime(): ActivityTimes {
  return { available: 0, ringing: 0, on_call: 0, on_hold: 0, after_call_work: 0, not_ready: 0, on_break: 0, offline: 0 };
}

/** A queue's counts over a period (the business day, or one interval of it). */
export interface QueueCounts {
  offered: number;
  answered: number;
  answered_within_sl: number;
  abandoned: number;
  short_abandons: number;
  wait_total_ms: number;
  /** Connected time of ended calls (hold included: both PBXs measure talk so). */
  talk_total_ms: number;
  talked: number;
  /** After-call work that followed the queue's calls. */
  acw_total_ms: number;
}

export function noQueueCounts(): QueueCounts {
  return { offered: 0, answered: 0, answered_within_sl: 0, abandoned: 0, short_abandons: 0, wait_total_ms: 0, talk_total_ms: 0, talked: 0, acw_total_ms: 0 };
}

export const round = (value: number, places = 1) => Math.round(value * 10 ** places) / 10 ** places;

/** `live.serviceLevelFormula`: null with nothing to measure. */
export function serviceLevelPct(counts: QueueCounts, formula: LiveConfig['serviceLevelFormula']): number | null {
  // Short abandons neither help nor hurt the service level.
  const base = formula === 'answered' ? counts.answered : counts.answered + counts.abandoned - counts.short_abandons;
  return base > 0 ? round((100 * counts.answered_within_sl) / base) : null;
}

/** The figures of a queue's counts (docs/live.md, the table of figures). */
export function queueFigures(counts: QueueCounts, formula: LiveConfig['serviceLevelFormula']) {
  const { offered, answered, answered_within_sl, abandoned, short_abandons, wait_total_ms, talk_total_ms, talked, acw_total_ms } = counts;
  const averageWait = answered > 0 ? round(wait_total_ms / answered / 1000) : null;
  return {
    offered,
    answered,
    answered_within_sl,
    abandoned,
    short_abandons,
    abandon_rate_pct: offered > 0 ? round((100 * abandoned) / offered) : null,
    service_level_pct: serviceLevelPct(counts, formula),
    asa_s: averageWait,
    aht_s: talked > 0 ? round((talk_total_ms + acw_total_ms) / talked / 1000) : null,
    average_wait_s: averageWait,
    average_talk_s: talked > 0 ? round(talk_total_ms / talked / 1000) : null,
  };
}

/** An agent's day in figures (docs/live.md): times in s, null where undefined. */
export function agentDayFigures(handled: number, missed: number, times: ActivityTimes) {
  const talk = times.on_call;
  const hold = times.on_hold;
  const acw = times.after_call_work;
  const notReady = times.not_ready + times.on_break;
  const loggedIn = talk + hold + acw + notReady + times.available + times.ringing;
  const productive = loggedIn - notReady;
  return {
    handled,
    missed,
    talk_s: round(talk / 1000),
    hold_s: round(hold / 1000),
    acw_s: round(acw / 1000),
    aht_s: handled > 0 ? round((talk + hold + acw) / handled / 1000) : null,
    not_ready_s: round(notReady / 1000),
    occupancy_pct: productive > 0 ? round((100 * (talk + hold + acw)) / productive) : null,
  };
}
