import type { EventType } from '../events/catalogue.js';
import { encodeEvent } from '../log/codec.js';
import { makeHubEvent } from '../log/hub-events.js';
import type { CtiPool } from './pools.js';

/**
 * The cti.* events the CTI scripts append to the event log with the write itself
 * (src/redis/lua/cti*.lua, through includes/appendEntry.lua), so the store and its log entry land
 * in one atomic step. Each event is made like every hub-made event (makeHubEvent in
 * src/log/hub-events.ts: id, time, source, the catalogue's check) and encoded as the log stores
 * every event (src/log/codec.ts). Only Redis knows the allocated DNIS and the fetched value's
 * size, so the event is made with a stand-in for that one figure, and goes to the script as the
 * JSON before and after it: the script joins the three. Never the value itself.
 *
 * Script arguments: [log max length, event id ('' = record nothing), type, JSON head, JSON tail].
 */
export class CtiEventRenderer {
  private readonly maxLength: string;
  private readonly off: readonly string[];
  /** The time of the last event, formatted once per millisecond. */
  private lastMs = 0;
  private lastTime = '';

  constructor(
    private readonly enabled: boolean,
    logMaxLength: number,
  ) {
    this.maxLength = String(logMaxLength);
    this.off = [this.maxLength, '', '', '', ''];
  }

  /** cti.data_stored; the script puts the DNIS where the stand-in was. */
  stored(pool: CtiPool, ani: string, sizeBytes: number): readonly string[] {
    if (!this.enabled) return this.off;
    return this.render('cti.data_stored', { pool: pool.name, dnis: DNIS_STAND_IN, ani, size_bytes: sizeBytes }, `"dnis":"${DNIS_STAND_IN}"`, '"dnis":"'.length, 1);
  }

  /** cti.data_fetched, recorded only when the entry was found; the script puts the value's size where the stand-in was. */
  fetched(pool: CtiPool, dnis: string, ani: string, deleted: boolean): readonly string[] {
    if (!this.enabled) return this.off;
    return this.render('cti.data_fetched', { pool: pool.name, dnis, ani, size_bytes: 0, deleted }, '"size_bytes":0', '"size_bytes":'.length, 0);
  }

  /**
   * Makes the event and splits its JSON around the stand-in's value. `field` is the field with its
   * stand-in as JSON; the head keeps its first `keep` characters, the tail its last `closing` (a
   * string's closing quote). The first match is the field itself: the envelope and the plain pool
   * name come before it, and any quote inside a string value is escaped.
   */
  private render(type: EventType, data: Record<string, unknown>, field: string, keep: number, closing: number): readonly string[] {
    const event = makeHubEvent(type, data, { time: this.now(), source: 'switchboard-cti' });
    const json = encodeEvent(event);
    const at = json.indexOf(field);
    return [this.maxLength, event.id, type, json.slice(0, at + keep), json.slice(at + field.length - closing)];
  }

  private now(): string {
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    return this.lastTime;
  }
}

/** A DNIS the catalogue takes, standing in for the one the script allocates. */
const DNIS_STAND_IN = '0';
