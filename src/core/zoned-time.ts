/** An instant's wall-clock fields in an IANA zone (month 1–12, hour 0–23). */
export interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** One formatter per zone: building one costs far more than formatting with it. */
const formats = new Map<string, Intl.DateTimeFormat>();

/**
 * The wall clock of `ms` in `timeZone`, from Intl (Node's ICU): no zone database of our own.
 * Throws a RangeError for a zone Intl does not know.
 */
export function wallClock(timeZone: string, ms: number): WallClock {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formats.set(timeZone, format);
  }
  const clock: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of format.formatToParts(ms)) if (part.type in clock) clock[part.type as keyof WallClock] = Number(part.value);
  return clock;
}

/** The offset of `timeZone` from UTC at the instant `ms`, in ms (east positive). */
export function zoneOffsetMs(timeZone: string, ms: number): number {
  if (timeZone === 'UTC') return 0;
  const { year, month, day, hour, minute, second } = wallClock(timeZone, ms);
  return Date.UTC(year, month - 1, day, hour, minute, second) - Math.floor(ms / 1000) * 1000;
}
