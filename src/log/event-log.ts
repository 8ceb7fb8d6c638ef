import { randomUUID } from 'node:crypto';
import type { Config } from '../config/schema.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import type { Output, OutputProfile } from '../profiles/output.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { scripts } from '../redis/scripts.js';
import { encodeEvent } from './codec.js';

/**
 * An event on its way into the log, rendered once at acceptance: the spool keeps it as is, so a
 * replay writes what the profiles configured at acceptance produced. The token identifies this
 * acceptance: a retry with the same token is our own in-doubt write, a different token is a
 * client re-submitting the id.
 */
export interface Acceptance {
  id: string;
  type: string;
  /** The event as the log stores it. */
  json: string;
  token: string;
  outputs: Output[];
}

/** Where a batch sits on its writer's chain (see the fence in appendEvents.lua). */
export interface Fence {
  /** The writer's fence key (keys.writerFence). */
  key: string;
  /** The batch sent before this one on the chain; '' starts a new chain. */
  previous: string;
  id: string;
}

const OP_CODES = { publish: 'P', lpush: 'L', xadd: 'X', fanout: 'I' } as const;

/**
 * Writes accepted events to the event log stream and to every profile's outputs, atomically and
 * idempotently per event id (src/redis/lua/appendEvents.lua).
 */
export class EventLogWriter {

  constructor(
    private readonly keys: Keys,
    private readonly profiles: readonly OutputProfile[],
    private readonly config: Config['eventLog'],
  ) {}

  /** Renders an accepted event for the log and every profile's outputs. */
  accept(event: AcceptedEvent): Acceptance {
    return {
      id: event.id,
      type: event.type,
      json: encodeEvent(event),
      token: randomUUID(),
      outputs: this.profiles.flatMap((profile) => profile.outputsFor(event)),
    };
  }

  /** Returns, per event, its log entry id, or null for a duplicate inside the dedup window. */
  async append(client: RedisClient, acceptances: readonly Acceptance[], fence: Fence): Promise<(string | null)[]> {
    const [keys, args] = this.command(acceptances, fence);
    return (await scripts.appendEvents.run(client, keys, args)) as (string | null)[];
  }

  /**
   * `append`, then WAIT for `replicas` replicas on the same connection: also returns how many
   * replicas acknowledged the write within `timeoutMs`.
   */
  async appendThenWait(
    client: RedisClient,
    acceptances: readonly Acceptance[],
    fence: Fence,
    replicas: number,
    timeoutMs: number,
  ): Promise<{ entryIds: (string | null)[]; replicasAcked: number }> {
    const [keys, args] = this.command(acceptances, fence);
    const [entryIds, replicasAcked] = await scripts.appendEvents.runThenWait(client, keys, args, replicas, timeoutMs);
    return { entryIds: entryIds as (string | null)[], replicasAcked };
  }

  private command(acceptances: readonly Acceptance[], fence: Fence): [string[], string[]] {
    const dedupKeys = acceptances.map(({ id }) => this.keys.dedup(id));
    const outputKeys: string[] = [];
    const outputKeyIndex = new Map<string, number>();
    const keyIndex = (key: string) => {
      let index = outputKeyIndex.get(key);
      if (index === undefined) {
        outputKeys.push(key);
        index = 2 + dedupKeys.length + outputKeys.length;
        outputKeyIndex.set(key, index);
      }
      return String(index);
    };

    const args = [String(this.config.dedupWindowMs), String(this.config.maxLength), String(acceptances.length), fence.previous, fence.id];
    for (const { id, type, json, token, outputs } of acceptances) {
      args.push(id, token, type, json, String(outputs.length));
      for (const output of outputs) {
        const target =
          output.op === 'publish' ? output.channel
          : output.op === 'fanout' ? fanoutTarget(keyIndex(output.registry), keyIndex(output.stream), output.tenant)
          : keyIndex(output.key);
        args.push(OP_CODES[output.op], target, output.message);
      }
    }
    return [[this.keys.eventLog, fence.key, ...dedupKeys, ...outputKeys], args];
  }
}

/**
 * The fan-out op's target: registry and shared-stream key indexes, then the event's tenant for
 * the scoped integrators, as JSON (tenant names may hold any character). '' stands for "none".
 */
function fanoutTarget(registry: string, stream: string, tenant: { reseller?: string | undefined; domain?: string | undefined }): string {
  return JSON.stringify([Number(registry), Number(stream), tenant.reseller ?? '', tenant.domain ?? '']);
}
