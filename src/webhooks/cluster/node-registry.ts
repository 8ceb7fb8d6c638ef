import type { RedisClient } from '../../redis/client.js';
import type { Keys } from '../../redis/keys.js';
import type { PlacementNode } from './placement.js';
import { scripts } from '../../redis/scripts.js';

export interface RegisteredNode extends PlacementNode {
  /** When its heartbeat runs out (ms, Redis clock). */
  expiresAt: number;
}

/** The live nodes as Redis saw them at `now` (Redis clock). */
export interface RegistrySnapshot {
  now: number;
  nodes: RegisteredNode[];
}

/**
 * The webhook node registry (`{ctl}`): every delivering hub heartbeats its expiry, and the time
 * it becomes eligible (its first beat plus its own `stableAfterMs`), both on the Redis clock, so
 * client clock skew cannot make a node look stable or gone, and every node judges every other by
 * the same rule. A node that misses its ttl is gone and starts over when it returns.
 */
export class NodeRegistry {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Keys,
    private readonly nodeId: string,
    private readonly ttlMs: number,
    private readonly stableAfterMs: number,
  ) {}

  /** Registers this node until now + ttl and returns every live node. */
  async beat(): Promise<RegistrySnapshot> {
    const reply = (await scripts.webhookNodeBeat.run(this.redis, [this.keys.nodes, this.keys.nodesEligibleAt], [this.nodeId, String(this.ttlMs), String(this.stableAfterMs)])) as (string | number)[];
    const nodes: RegisteredNode[] = [];
    for (let index = 1; index + 2 < reply.length; index += 3) {
      nodes.push({ id: String(reply[index]), eligibleAt: Number(reply[index + 1]), expiresAt: Number(reply[index + 2]) });
    }
    return { now: Number(reply[0]), nodes };
  }

  /** Planned shutdown: leave at once, so the other nodes place nothing more here. */
  async leave(): Promise<void> {
    await scripts.webhookNodeLeave.run(this.redis, [this.keys.nodes, this.keys.nodesEligibleAt], [this.nodeId]);
  }

  /** The live nodes, read without registering (a hub that does not deliver webhooks). */
  async read(): Promise<RegistrySnapshot> {
    const [seconds = '0', micros = '0'] = (await this.redis.sendCommand(['TIME'], this.keys.nodes)) as string[];
    const now = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
    const live = (await this.redis.sendCommand(['ZRANGEBYSCORE', this.keys.nodes, `(${now}`, '+inf', 'WITHSCORES'], this.keys.nodes)) as string[];
    const ids = live.filter((_, index) => index % 2 === 0);
    const eligibleAt = ids.length > 0 ? ((await this.redis.sendCommand(['HMGET', this.keys.nodesEligibleAt, ...ids], this.keys.nodesEligibleAt)) as (string | null)[]) : [];
    return { now, nodes: ids.map((id, index) => ({ id, eligibleAt: Number(eligibleAt[index] ?? now), expiresAt: Number(live[index * 2 + 1]) })) };
  }
}
