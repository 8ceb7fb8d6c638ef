import { ConfigError } from '../errors.js';

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `90s`, `1h`, `2d`, `500ms`, or a number of seconds, for the option named `option`. */
export function parseDurationMs(value: string, option = '--duration'): number {
  const match = DURATION.exec(value.trim());
  if (!match) throw new ConfigError(`${option}: expected a duration such as 90s, 10m or 1h, got "${value}"`);
  const durationMs = Math.round(Number(match[1]) * (UNIT_MS[match[2] ?? 's'] ?? 1000));
  if (durationMs <= 0) throw new ConfigError(`${option}: must be more than 0, got "${value}"`);
  return durationMs;
}

/**
 * A `--since` value as the API takes it: a duration with its unit (`10m`, `2h`) becomes the ISO
 * time that long before `now`; anything else (an ISO time, a stream id) is passed on as written,
 * for the hub to check. A bare number stays as written: for `replay` it may be a stream id.
 */
export function sinceValue(value: string, now = Date.now()): string {
  const trimmed = value.trim();
  const match = DURATION.exec(trimmed);
  if (!match?.[2]) return value;
  return new Date(now - parseDurationMs(trimmed, '--since')).toISOString();
}
