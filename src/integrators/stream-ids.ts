import { ValidationError } from '../errors.js';

/**
 * Stream-id helpers: positions (ordering, time, "before a time") are in src/log/reader.ts; this
 * file only reads a user-supplied `since`, which may be any valid stream id or a time.
 */
const STREAM_ID = /^(\d{1,20})-(\d{1,20})$/;
/** Both parts of a Redis stream id are unsigned 64-bit integers. */
const MAX_ID_PART = 2n ** 64n - 1n;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * XRANGE start for `since`: a stream id is exclusive (`(id`, so a page's last id continues the
 * replay), an ISO time is inclusive of entries accepted at or after it.
 */
export function parseSince(since: string): string {
  const id = STREAM_ID.exec(since);
  if (id) {
    const [ms, seq] = [BigInt(id[1] as string), BigInt(id[2] as string)];
    // The very last id has no successor, so Redis refuses it as an exclusive start too.
    if (ms > MAX_ID_PART || seq > MAX_ID_PART || (ms === MAX_ID_PART && seq === MAX_ID_PART)) {
      throw new ValidationError('since: a stream id is two unsigned 64-bit integers, below 18446744073709551615-18446744073709551615', {
        details: [{ path: '/since', message: `"${since}" is out of the stream id range` }],
      });
    }
    return `(${since}`;
  }
  const time = ISO_TIME.test(since) ? Date.parse(since) : Number.NaN;
  if (Number.isNaN(time)) {
    throw new ValidationError('since must be an ISO 8601 time with a zone (2026-11-21T10:00:00Z) or a stream id (1763719200000-0)', {
      details: [{ path: '/since', message: `cannot read "${since}" as a time or a stream id` }],
    });
  }
  return `${Math.max(0, time)}-0`;
}
