import type { CtiConfig } from '../config/schema.js';
import { ConfigError } from '../errors.js';

/** One pool of DNIS numbers that route to one target system. */
export interface CtiPool {
  name: string;
  numbers: readonly string[];
  ttlSeconds: number;
}

export interface CtiPools {
  byName: ReadonlyMap<string, CtiPool>;
  /** Every number belongs to exactly one pool, so GET and DELETE find the pool from the DNIS. */
  byDnis: ReadonlyMap<string, CtiPool>;
  /** Undefined when several pools exist and `cti.defaultPool` names none: POSTs must name theirs. */
  defaultPool: CtiPool | undefined;
}

const POOL_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const NUMBER = /^\+?[0-9]{1,32}$/;
const RANGE = /^(\+?)([0-9]{1,32})-(\+?)([0-9]{1,32})$/;
/** Guards against a typo such as "5550000-5559999999" filling memory and Redis. */
export const MAX_POOL_NUMBERS = 100_000;

/** Expands `cti.pools` (numbers and "first-last" ranges) and checks that no number is in two pools. */
export function parsePools(cti: Readonly<CtiConfig>): CtiPools {
  const byName = new Map<string, CtiPool>();
  const byDnis = new Map<string, CtiPool>();
  let total = 0;

  for (const [name, spec] of Object.entries(cti.pools)) {
    // The name becomes part of a Redis hash tag: no braces.
    if (!POOL_NAME.test(name)) throw new ConfigError(`cti.pools.${name}: pool names are 1-64 of A-Z a-z 0-9 _ . -`);
    const entries = Array.isArray(spec) ? spec : spec.numbers;
    const ttlSeconds = (Array.isArray(spec) ? undefined : spec.ttlSeconds) ?? cti.ttlSeconds;
    const numbers: string[] = [];
    const pool: CtiPool = { name, numbers, ttlSeconds };
    entries.forEach((entry, index) => {
      const path = `cti.pools.${name}[${index}]`;
      for (const dnis of expand(entry, path)) {
        const owner = byDnis.get(dnis);
        if (owner) {
          throw new ConfigError(`${path}: ${dnis} is already in pool "${owner.name}"${owner === pool ? '' : ' (a number belongs to one pool)'}`);
        }
        byDnis.set(dnis, pool);
        numbers.push(dnis);
        total += 1;
      }
      if (total > MAX_POOL_NUMBERS) throw new ConfigError(`${path}: the pools hold more than ${MAX_POOL_NUMBERS} numbers`);
    });
    byName.set(name, pool);
  }

  let defaultPool: CtiPool | undefined;
  if (cti.defaultPool !== undefined) {
    defaultPool = byName.get(cti.defaultPool);
    if (!defaultPool) throw new ConfigError(`cti.defaultPool: no pool named "${cti.defaultPool}" in cti.pools`);
  } else if (byName.size === 1) {
    defaultPool = [...byName.values()][0];
  }
  return { byName, byDnis, defaultPool };
}

function expand(entry: string | number, path: string): string[] {
  const text = String(entry).trim();
  if (NUMBER.test(text)) return [text];
  const range = RANGE.exec(text);
  if (!range) throw new ConfigError(`${path}: "${text}" is neither a number (digits, optional leading +) nor a "first-last" range`);
  const [, plus = '', first = '', lastPlus = '', last = ''] = range;
  if (first.length !== last.length || (lastPlus !== '' && lastPlus !== plus)) {
    throw new ConfigError(`${path}: both ends of "${text}" must have the same form and number of digits`);
  }
  const from = BigInt(first);
  const to = BigInt(last);
  if (to < from) throw new ConfigError(`${path}: "${text}" ends before it starts`);
  if (to - from >= BigInt(MAX_POOL_NUMBERS)) throw new ConfigError(`${path}: "${text}" holds more than ${MAX_POOL_NUMBERS} numbers`);
  const numbers: string[] = [];
  for (let value = from; value <= to; value += 1n) numbers.push(plus + value.toString().padStart(first.length, '0'));
  return numbers;
}
