import { wallClock } from '../core/zoned-time.js';
import { ConfigError } from '../errors.js';

/**
 * The contact centre's day: it starts at `resetTime` (HH:MM) local time in an IANA zone, so daily
 * counters restart there (a night shift can count from 06:00). Days are named by the local date
 * on which they start.
 */
export class BusinessDay {
  private readonly resetMinutes: number;
  /** Local date of the minute last asked about: events arrive in runs within a minute. */
  private cachedMinute = Number.NaN;
  private cachedDay = '';
  /** When each recent day started, by its name: one bisection per day, not one per event or answer. */
  private readonly starts = new Map<string, number>();

  constructor(resetTime: string, readonly timeZone: string) {
    try {
      wallClock(timeZone, 0);
    } catch (error) {
      throw new ConfigError(`live.timeZone: "${timeZone}" is not an IANA time zone (e.g. Europe/London)`, { cause: error });
    }
    const [hours = 0, minutes = 0] = resetTime.split(':').map(Number);
    this.resetMinutes = hours * 60 + minutes;
  }

  /** The day (YYYY-MM-DD of its start) that the instant `ms` belongs to. */
  dayOf(ms: number): string {
    const minute = Math.floor(ms / 60_000);
    if (minute === this.cachedMinute) return this.cachedDay;
    const clock = wallClock(this.timeZone, minute * 60_000);
    const twoDigits = (value: number) => String(value).padStart(2, '0');
    let day = `${clock.year}-${twoDigits(clock.month)}-${twoDigits(clock.day)}`;
    if (clock.hour * 60 + clock.minute < this.resetMinutes) {
      const previous = new Date(`${day}T00:00:00Z`);
      previous.setUTCDate(previous.getUTCDate() - 1);
      day = previous.toISOString().slice(0, 10);
    }
    this.cachedMinute = minute;
    this.cachedDay = day;
    return day;
  }

  /** Epoch ms at which the day of `ms` started (the first minute that belongs to it). */
  startOf(ms: number): number {
    const day = this.dayOf(ms);
    const known = this.starts.get(day);
    if (known !== undefined) return known;
    // A day lasts 23 to 25 hours: 50 hours back is in an earlier one. Days only move forward, so bisect.
    let before = Math.floor(ms / 60_000) - 50 * 60;
    let within = Math.floor(ms / 60_000);
    while (within - before > 1) {
      const middle = Math.floor((before + within) / 2);
      if (this.dayOf(middle * 60_000) === day) within = middle;
      else before = middle;
    }
    const startMs = within * 60_000;
    // Events and answers concern today and, around the reset, yesterday.
    if (this.starts.size >= 8) this.starts.clear();
    this.starts.set(day, startMs);
    return startMs;
  }
}
