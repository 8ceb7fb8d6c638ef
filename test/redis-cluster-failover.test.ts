import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCluster } from 'redis';
import { consumeCdrs } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { isPortOpen, LocalRedisServer } from '../src/redis/local-server.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { freePort, tempDir } from './helpers/redis.js';
import { startCdrTraffic } from './helpers/traffic.js';
import { clusterNodeOf, redisCommand, startClusterTopology, type ClusterTopology } from './helpers/topologies.js';
import { waitFor } from './helpers/wait.js';

const LANES = 4;

async function spoolDepth(hub: Hub): Promise<number> {
  const body = (await (await fetch(`${hub.url}/readyz`)).json()) as { checks: { name: string; depth?: number }[] };
  return body.checks.find((check) => check.name === 'spool')?.depth ?? -1;
}

/**
 * A master of a Redis Cluster dies (kill -9) under steady CDR traffic and one of its replicas is
 * promoted: the master of the log's slot, so every append, WAIT and stream read moves with it.
 */
describe('Redis Cluster with replicas: the log master fails over', () => {
  let cluster: ClusterTopology;
  let hub: Hub;

  beforeAll(async () => {
    cluster = await startClusterTopology({ masters: 3, replicasPerMaster: 2, nodeTimeoutMs: 1000 });
    await cluster.replicasInSync();
    hub = await startHub('', {
      keyPrefix: 'sbfail',
      redis: { url: undefined, cluster: { nodes: cluster.nodeList.split(',') }, minReplicasAcked: 1, replicaAckTimeoutMs: 200 },
    });
  });
  afterAll(async () => {
    await hub?.close();
    await cluster?.close();
  });

  it('minReplicasAcked 1: every CDR answered 202 reaches the integrator once, in each connection order; nothing is refused', async () => {
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'crm' })).status).toBe(201);
    const traffic = startCdrTraffic(hub.url, 'fail', LANES);
    const { acknowledged, count } = traffic;
    await waitFor(() => count() >= 200, 60_000, 'CDRs to flow before the failover');
    const { oldPort, newPort } = await cluster.killMasterOf(hub.context.keys.eventLog);
    expect(newPort).not.toBe(oldPort);
    const atFailover = count();
    await waitFor(() => count() >= atFailover + 200, 60_000, 'CDRs to flow after the failover');
    await traffic.stop();
    await waitFor(async () => (await spoolDepth(hub)) === 0, 60_000, 'the spool to drain to the new master');

    const all = acknowledged.flat();
    const seen: string[] = [];
    const done = new AbortController();
    const live = cluster.ports.filter((port) => port !== oldPort).map((port) => `127.0.0.1:${port}`);
    const worker = consumeCdrs({
      cluster: { nodes: live },
      keyPrefix: 'sbfail',
      integrator: 'crm',
      consumer: 'crm-1',
      blockMs: 200,
      signal: done.signal,
      handler: (cdr) => void seen.push(String(cdr.event.data.call_id)),
    });
    await waitFor(() => seen.length >= all.length, 60_000, `the integrator to read all ${all.length} acknowledged CDRs`);
    // Anything more would be a duplicate: read on until the group has nothing left for this worker.
    const integrator = createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port: newPort } }], RESP: 2 });
    integrator.on('error', () => {});
    await integrator.connect();
    const stream = 'sbfail:{log}:cdr';
    await waitFor(
      async () => {
        const [info] = (await integrator.sendCommand(stream, true, ['XINFO', 'GROUPS', stream])) as string[][];
        const fields = Object.fromEntries((info ?? []).map((value, i, list) => (i % 2 === 0 ? [value, list[i + 1]] : [])).filter((pair) => pair.length));
        return Number(fields.pending) === 0 && Number(fields.lag ?? 0) === 0;
      },
      60_000,
      'the group to be read to its end',
    );
    done.abort();
    await worker;
    await integrator.close();

    expect(traffic.refused).toBe(0);
    expect(seen).toHaveLength(all.length);
    expect(new Set(seen)).toEqual(new Set(all));
    for (const sent of acknowledged) expect(seen.filter((ref) => sent.includes(ref))).toEqual(sent);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    const figure = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(metrics)?.[1] ?? 0);
    process.stdout.write(
      `[redis-cluster failover] minReplicasAcked 1: ${all.length} CDRs acknowledged, 0 lost; ` +
        `${figure('switchboard_events_spooled_total')} events spooled, ${figure('switchboard_replica_ack_shortfalls_total')} batches short of replicas\n`,
    );
  });
});

/**
 * A master of a Cluster without replicas dies and nothing takes its slots: every write to the log
 * is refused by the client at once ("The client is offline"), while the cluster client as a whole
 * stays ready. The spool's drain must then wait `spool.drainRetryMs` between rounds.
 */
describe('Redis Cluster: the log master is gone and nothing replaces it', () => {
  const drainRetryMs = 200;
  let cluster: ClusterTopology;
  let hub: Hub;

  beforeAll(async () => {
    cluster = await startClusterTopology({ masters: 3 });
    hub = await startHub('', {
      keyPrefix: 'sbgone',
      shutdownTimeoutMs: 200,
      redis: { url: undefined, cluster: { nodes: cluster.nodeList.split(',') } },
      spool: { drainRetryMs, drainBatchEvents: 1 },
    });
  });
  afterAll(async () => {
    await hub?.close();
    await cluster?.close();
  });

  it('retries the drain one round per drainRetryMs, not one more round per failed write', async () => {
    const failures = async () => Number(/^switchboard_redis_write_failures_total (\d+)/m.exec(await (await fetch(`${hub.url}/metrics`)).text())?.[1] ?? 0);
    expect((await postEvents(hub.url, cdrEvent(1))).status).toBe(202);
    await cluster.nodes.get(await clusterNodeOf(cluster, hub.context.keys.eventLog))?.kill();
    // Eight one-event batches in the spool: the drain sends up to four writes at a time.
    for (let n = 2; n <= 9; n += 1) expect((await postEvents(hub.url, cdrEvent(n))).status).toBe(202);
    expect(await spoolDepth(hub)).toBeGreaterThanOrEqual(8);
    await waitFor(async () => (await failures()) > 8, 20_000, 'the drain to fail a few rounds');
    const first = await failures();
    const startedAt = performance.now();
    await waitFor(() => performance.now() - startedAt >= 10 * drainRetryMs, 20_000, 'ten retry periods');
    const periods = (performance.now() - startedAt) / drainRetryMs;
    // At most one round of four writes per period, plus the round under way. A retry per failed
    // write would start four rounds for each round: thousands of writes within these ten periods.
    expect((await failures()) - first).toBeLessThanOrEqual(4 * (Math.ceil(periods) + 1));
    expect(await spoolDepth(hub)).toBeGreaterThanOrEqual(8);
  });
});

interface Readiness {
  status: string;
  reasons?: string[];
  checks: { name: string; ok: boolean; depth?: number; replicasAcked?: number; minReplicasAcked?: number; hint?: string }[];
}

/**
 * docs/deployment.md's Cluster recipe: one replica per master, `SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED=1`.
 * After kill -9 of the `{log}` master, the promoted replica has no replica of its own: Redis
 * answers every write, WAIT 1 never does, and the spool grows. /readyz must say that, not
 * "waiting for Redis", and following its hint (a replica for the new master) must cure it.
 */
describe("Redis Cluster, the recipe's one replica per master: the log master fails over", () => {
  let cluster: ClusterTopology;
  let hub: Hub;
  let added: LocalRedisServer | undefined;

  beforeAll(async () => {
    cluster = await startClusterTopology({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1000 });
    await cluster.replicasInSync();
    hub = await startHub('', {
      keyPrefix: 'sbrecipe',
      redis: { url: undefined, cluster: { nodes: cluster.nodeList.split(',') }, minReplicasAcked: 1, replicaAckTimeoutMs: 200 },
    });
  });
  afterAll(async () => {
    await hub?.close();
    await added?.kill();
    await cluster?.close();
  });

  const readiness = async () => (await (await fetch(`${hub.url}/readyz`)).json()) as Readiness;

  it('/readyz names the replica shortfall with a hint; a replica for the new master drains the spool, every event once', async () => {
    let sent = 0;
    const send = async (count: number) => {
      for (let i = 0; i < count; i += 1) expect((await postEvents(hub.url, cdrEvent(++sent))).status).toBe(202);
    };
    await send(5);
    await waitFor(async () => (await readiness()).status === 'ready', 20_000, 'the hub to be ready');

    const { newPort } = await cluster.killMasterOf(hub.context.keys.eventLog);
    await send(20);
    // Around the failover the redis check can fail a beat on its own (the cluster client moves to
    // the new master; its PING has 400 ms on a loaded machine; a clean CI run saw it once): the
    // claim is the state that follows, the shortfall named while Redis answers, so the report is
    // taken once both hold.
    let report: Readiness = await readiness();
    await waitFor(
      async () => {
        report = await readiness();
        return report.checks.find((check) => check.name === 'spool')?.replicasAcked === 0 && report.checks.find((check) => check.name === 'redis')?.ok === true;
      },
      30_000,
      '/readyz to name the shortfall while the redis check passes',
    );
    expect(report.status).toBe('not_ready');
    const spool = report.checks.find((check) => check.name === 'spool');
    expect(spool).toMatchObject({ ok: false, replicasAcked: 0, minReplicasAcked: 1 });
    expect(spool?.depth).toBeGreaterThan(0);
    expect(spool?.hint).toMatch(/^the master of the event log has fewer replicas in sync than redis\.minReplicasAcked .*redis-cli --cluster add-node .*--cluster-slave.*SWITCHBOARD_REDIS_MIN_REPLICAS_ACKED/);
    expect(report.reasons).toEqual([expect.stringMatching(/^\d+ events spooled: Redis takes the writes, but 0 of the 1 replicas redis\.minReplicasAcked requires confirm them within 200 ms \(since .+\); the master of the event log has fewer replicas/)]);

    // The hint, followed: a new node joins as a replica of the promoted master.
    let port = await freePort();
    while (port + 10_000 > 65_535 || (await isPortOpen(port + 10_000))) port = await freePort();
    const dir = tempDir('switchboard-cluster-replica-');
    added = await LocalRedisServer.start({ port, dir, extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '1000'] });
    const masterId = String(await redisCommand(newPort, ['CLUSTER', 'MYID']));
    await promisify(execFile)('redis-cli', ['--cluster', 'add-node', `127.0.0.1:${port}`, `127.0.0.1:${newPort}`, '--cluster-slave', '--cluster-master-id', masterId], { timeout: 60_000 });

    await waitFor(async () => (await readiness()).status === 'ready', 60_000, 'the spool to drain once the new replica confirms');
    const healed = await readiness();
    expect(healed.checks.find((check) => check.name === 'spool')).toEqual({ name: 'spool', ok: true, depth: 0 });
    expect(await hub.context.redis.xLen(hub.context.keys.eventLog)).toBe(sent);
  });
});
