import type { Config } from '../config/schema.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { OutputProfile } from '../profiles/output.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { LuaScript } from '../redis/scripts.js';

/**
 * An event on its way into the log. The token identifies this acceptance: a retry with the same
 * token is our own in-doubt write, a different token is a client re-submitting the id.
 */
export interface Acceptance {
  event: AcceptedEvent;
  token: string;
}

const OP_CODES = { publish: 'P', lpush: 'L', xadd: 'X', fanout: 'I' } as const;

/**
 * Writes accepted events to the event log stream and to every profile's outputs, atomically and
 * idempotently per event id (src/redis/lua/appendEvents.lua).
 */
export class EventLogWriter {
  private readonly script = new LuaScript('appendEvents');

  constructor(
    private readonly keys: Keys,
    private readonly profiles: readonly OutputProfile[],
    private readonly config: Config['eventLog'],
  ) {}

  /** Returns, per event, its log entry id, or null for a duplicate inside the dedup window. */
  async append(client: RedisClient, acceptances: readonly Acceptance[]): Promise<(string | null)[]> {
    const dedupKeys = acceptances.map(({ event }) => this.keys.dedup(event.id));
    const outputKeys: string[] = [];
    const outputKeyIndex = new Map<string, number>();
    const keyIndex = (key: string) => {
      let index = outputKeyIndex.get(key);
      if (index === undefined) {
        outputKeys.push(key);
        index = 1 + dedupKeys.length + outputKeys.length;
        outputKeyIndex.set(key, index);
      }
      return String(index);
    };

    const args = [String(this.config.dedupWindowMs), String(this.config.maxLength), String(acceptances.length)];
    for (const { event, token } of acceptances) {
      const outputs = this.profiles.flatMap((profile) => profile.outputsFor(event));
      args.push(event.id, token, event.type, JSON.stringify(event), String(outputs.length));
      for (const output of outputs) {
        const target =
          output.op === 'publish' ? output.channel
          : output.op === 'fanout' ? `${keyIndex(output.registry)} ${keyIndex(output.stream)}`
          : keyIndex(output.key);
        args.push(OP_CODES[output.op], target, output.message);
      }
    }
    const reply = (await this.script.run(client, [this.keys.eventLog, ...dedupKeys, ...outputKeys], args)) as (string | null)[];
    return reply;
  }
}
