import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'redis';
import { consumeCdrs } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { startCdrTraffic } from './helpers/traffic.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startSentinelTopology, type SentinelTopology } from './helpers/topologies.js';
import { waitFor } from './helpers/wait.js';

const LANES = 4;
const CDR_LIST = 'enigma:notifications:campaigns';

interface FailoverRun {
  /** Per connection, the call ids answered 202, in sending order. */
  acknowledged: string[][];
  refused: number;
  /** What the new master holds: the Enigma list (oldest first) and each integrator's deliveries. */
  list: string[];
  groups: Map<string, string[]>;
}

/**
 * Steady CDR traffic on several connections while Sentinel fails the master over (kill -9).
 * Returns what was acknowledged and what the new master holds once the hub has drained.
 */
async function failoverUnderTraffic(topology: SentinelTopology, hub: Hub, prefix: string): Promise<FailoverRun> {
  const traffic = startCdrTraffic(hub.url, prefix, LANES);
  const { acknowledged, count } = traffic;
  await waitFor(() => count() >= 200, 60_000, 'CDRs to flow before the failover');
  const { newPort } = await topology.killMaster();
  const atFailover = count();
  await waitFor(() => count() >= atFailover + 200, 60_000, 'CDRs to flow after the failover');
  await traffic.stop();
  await waitFor(async () => (await readiness(hub)).spool === 0, 60_000, 'the spool to drain to the new master');

  const all = acknowledged.flat();
  const master = createClient({ socket: { host: '127.0.0.1', port: newPort }, RESP: 2 });
  master.on('error', () => {});
  await master.connect();
  const mine = (refs: string[]) => refs.filter((ref) => ref.startsWith(`${prefix}-`));
  // The list is filled in the same atomic step as the log: what the log has, the list has.
  const list = mine((await master.lRange(CDR_LIST, 0, -1)).reverse().map((message) => JSON.parse(message).payload.call_ref as string));
  await master.close();

  const groups = new Map<string, string[]>();
  for (const integrator of ['crm', 'billing']) {
    const seen: string[] = [];
    const done = new AbortController();
    const worker = consumeCdrs({
      sentinel: { name: topology.name, sentinels: topology.sentinelList.split(',') },
      keyPrefix: 'sbtest',
      integrator,
      consumer: `${integrator}-${prefix}`,
      blockMs: 200,
      signal: done.signal,
      handler: (cdr) => void seen.push(String(cdr.event.data.call_id)),
    });
    // Everything acknowledged, or (minReplicasAcked 0) whatever the new master kept: reading
    // started and nothing more came for 3 s.
    let last = -1;
    await waitFor(
      async () => {
        const now = mine(seen).length;
        if (now >= all.length) return true;
        const settled = now > 0 && now === last;
        last = now;
        if (settled) await new Promise((resolve) => setTimeout(resolve, 3000));
        return settled && mine(seen).length === now;
      },
      60_000,
      `integrator ${integrator} to read its group`,
    );
    done.abort();
    await worker;
    groups.set(integrator, mine(seen));
  }
  return { acknowledged, refused: traffic.refused, list, groups };
}

/** How the hub got through the failover: events spooled, batches short of replicas. */
async function spooledFigures(hub: Hub): Promise<string> {
  const metrics = await (await fetch(`${hub.url}/metrics`)).text();
  const value = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
  return `${value('switchboard_events_spooled_total')} events spooled, ${value('switchboard_replica_ack_shortfalls_total')} batches short of replicas`;
}

async function readiness(hub: Hub): Promise<{ status: number; spool: number; body: Record<string, unknown> }> {
  const response = await fetch(`${hub.url}/readyz`);
  const body = (await response.json()) as { checks: { name: string; depth?: number }[] };
  return { status: response.status, spool: body.checks.find((check) => check.name === 'spool')?.depth ?? -1, body };
}

describe('Redis Sentinel: a master, 2 replicas, 3 Sentinels', () => {
  let topology: SentinelTopology;
  let receiver: Receiver;

  beforeAll(async () => {
    topology = await startSentinelTopology({ replicas: 2, sentinels: 3, downAfterMs: 1000, failoverTimeoutMs: 3000 });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
    await topology?.close();
  });

  const sentinelConfig = () => ({ url: undefined, sentinel: { name: topology.name, sentinels: topology.sentinelList.split(',') } });

  it('minReplicasAcked 1: every CDR answered 202 is on the new master, once, in order, for the Enigma list and every integrator; webhooks and CTI carry on', async () => {
    const hub = await startHub('', {
      redis: { ...sentinelConfig(), minReplicasAcked: 1, replicaAckTimeoutMs: 200 },
      webhooks: { allowPrivateTargets: true, leaseTtlMs: 2000 },
      cti: { users: [{ username: 'cti', password: 'cti-secret' }], pools: { main: ['5550002000-5550002009'] } },
    });
    try {
      for (const name of ['crm', 'billing']) expect((await api(hub.url, 'POST', '/v1/integrators', { name })).status).toBe(201);
      const run = await failoverUnderTraffic(topology, hub, 'acked');
      const all = run.acknowledged.flat();
      expect(run.refused).toBe(0);
      expect(run.list).toHaveLength(all.length);
      expect(new Set(run.list)).toEqual(new Set(all));
      for (const lane of run.acknowledged) expect(run.list.filter((ref) => lane.includes(ref))).toEqual(lane);
      for (const [integrator, seen] of run.groups) {
        expect(seen, integrator).toHaveLength(all.length);
        expect(new Set(seen), integrator).toEqual(new Set(all));
        for (const lane of run.acknowledged) expect(seen.filter((ref) => lane.includes(ref)), integrator).toEqual(lane);
      }

      // CTI answers on the new master (it may answer 503 while the failover lasts).
      const auth = `Basic ${Buffer.from('cti:cti-secret').toString('base64')}`;
      await waitFor(
        async () =>
          (
            await fetch(`${hub.url}/cticache/DNIS-ANI`, {
              method: 'POST',
              headers: { authorization: auth, 'content-type': 'application/json' },
              body: JSON.stringify({ ani: '4420733334444', value: 'after-failover' }),
            })
          ).status === 201,
        30_000,
        'CTI to store on the new master',
      );
      // A webhook subscription created after the failover is leased and posted.
      const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'campaign', 'post-url': `${receiver.url}?s=1`, domain: 'sentinel.example' });
      expect(created.status).toBe(200);
      const id = created.body.id as string;
      await waitFor(
        async () => {
          await postEvents(hub.url, { type: 'campaign.status_changed', scope: { domain: 'sentinel.example' }, data: { campaign: 'spring', status: 'started' } });
          return receiver.received.some((post) => post.headers['x-correlation-id'] === id);
        },
        30_000,
        'the subscription to be posted after the failover',
      );
      expect((await readiness(hub)).status).toBe(200);
      process.stdout.write(`\n[redis-sentinel] minReplicasAcked 1: 0 of ${all.length} acknowledged CDRs lost; ${await spooledFigures(hub)}\n`);
    } finally {
      await hub.close();
    }
  });

  it('minReplicasAcked 0: the same failover, and how many acknowledged CDRs it lost (reported, not asserted)', async () => {
    const hub = await startHub('', { keyPrefix: 'sbtest', redis: { ...sentinelConfig(), minReplicasAcked: 0 }, webhooks: { enabled: false } });
    try {
      const run = await failoverUnderTraffic(topology, hub, 'unacked');
      const all = run.acknowledged.flat();
      const kept = new Set(run.list);
      const lost = all.filter((ref) => !kept.has(ref)).length;
      process.stdout.write(`\n[redis-sentinel] minReplicasAcked 0: ${lost} of ${all.length} acknowledged CDRs lost across the failover (Enigma list of the new master); ${await spooledFigures(hub)}\n`);
      expect(run.refused).toBe(0);
      // Whatever was kept is there once and in order.
      expect(kept.size).toBe(run.list.length);
      for (const lane of run.acknowledged) expect(run.list.filter((ref) => lane.includes(ref))).toEqual(lane.filter((ref) => kept.has(ref)));
    } finally {
      await hub.close();
    }
  });
});
