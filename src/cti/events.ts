import { v7 as uuidv7 } from 'uuid';
import { encodeEnvelopeHead } from '../log/codec.js';
import type { CtiPool } from './pools.js';

/**
 * Renders the cti.* events the CTI scripts append to the event log, with the entry write itself
 * (src/redis/lua/cti*.lua). Only Redis knows the allocated DNIS and the fetched value's size, so
 * each event goes as the JSON before and after that one figure: the script joins the three.
 * The event has the shape of the catalogue's cti.data_stored / cti.data_fetched; never the value.
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

  /** cti.data_stored; the script puts the DNIS between head and tail. */
  stored(pool: CtiPool, ani: string, sizeBytes: number): readonly string[] {
    if (!this.enabled) return this.off;
    const { id, head } = this.start('cti.data_stored');
    return [
      this.maxLength,
      id,
      'cti.data_stored',
      `${head}{"pool":"${pool.name}","dnis":"`,
      `","ani":${JSON.stringify(ani)},"size_bytes":${sizeBytes}}}`,
    ];
  }

  /** cti.data_fetched, recorded only when the entry was found; the script puts the value's size between head and tail. */
  fetched(pool: CtiPool, dnis: string, ani: string, deleted: boolean): readonly string[] {
    if (!this.enabled) return this.off;
    const { id, head } = this.start('cti.data_fetched');
    return [
      this.maxLength,
      id,
      'cti.data_fetched',
      `${head}{"pool":"${pool.name}","dnis":"${dnis}","ani":${JSON.stringify(ani)},"size_bytes":`,
      `,"deleted":${deleted}}}`,
    ];
  }

  /** Pool names and DNIS are plain (src/cti/pools.ts), so only the ANI needs JSON escaping. */
  private start(type: string): { id: string; head: string } {
    const id = uuidv7();
    const now = Date.now();
    if (now !== this.lastMs) {
      this.lastMs = now;
      this.lastTime = new Date(now).toISOString();
    }
    return { id, head: encodeEnvelopeHead({ id, type, time: this.lastTime, source: 'switchboard-cti' }) };
  }
}
