import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, createCluster } from 'redis';
import { consumeCdrs } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { postEvents, startChildHub, startHub, type ChildHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { tempDir } from './helpers/redis.js';
import { clusterNodeOf, startClusterTopology, type ClusterTopology } from './helpers/topologies.js';
import { waitFor } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** A cluster client as an integrator makes one. */
const clusterClient = (port: number) => createCluster({ rootNodes: [{ socket: { host: '127.0.0.1', port } }], RESP: 2 });

/**
 * The Redis-facing contracts (Pub/Sub patterns, the Enigma CDR list, consumer groups, webhooks, CTI) on a 3-master Redis Cluster, seen as an integrator sees them: with a
 * cluster client, or a plain client on whichever node it likes.
 */
describe('Redis Cluster (3 masters)', () => {
  let cluster: ClusterTopology;
  let hubA: Hub;
  let hubB: Hub;
  let receiver: Receiver;
  let integrator: ReturnType<typeof clusterClient>;
  const nodes = () => cluster.nodeList.split(',');
  let enigmaPrefix: string;
  let cdrList: string;

  beforeAll(async () => {
    cluster = await startClusterTopology({ masters: 3 });
    // An Enigma prefix whose CDR list lives on another node than the log: what the relay is for.
    const logNode = await clusterNodeOf(cluster, 'sbtest:{log}:events');
    for (const candidate of ['sbc', 'sbd', 'sbe', 'sbf', 'sbg', 'sbh']) {
      if ((await clusterNodeOf(cluster, `${candidate}:notifications:campaigns`)) !== logNode) {
        enigmaPrefix = candidate;
        break;
      }
    }
    cdrList = `${enigmaPrefix}:notifications:campaigns`;
    const overrides = {
      redis: { url: undefined, cluster: { nodes: nodes() } },
      profiles: { enigma: { prefix: enigmaPrefix } },
      webhooks: { allowPrivateTargets: true, leaseTtlMs: 2000 },
      cti: { users: [{ username: 'cti', password: 'cti-secret' }], pools: { main: ['5550001000-5550001009'] } },
    };
    [hubA, hubB] = await Promise.all([startHub('', overrides), startHub('', overrides)]);
    receiver = await startReceiver();
    integrator = clusterClient(cluster.ports[0] as number);
    integrator.on('error', () => {});
    await integrator.connect();
  });

  afterAll(async () => {
    await integrator?.close().catch(() => {});
    await Promise.all([hubA?.close(), hubB?.close()]);
    await receiver?.close();
    await cluster?.close();
  });

  it('publishes from the append script to pattern subscribers connected to every other node', async () => {
    const logNode = await clusterNodeOf(cluster, 'sbtest:{log}:events');
    const others = cluster.ports.filter((port) => port !== logNode);
    expect(others).toHaveLength(2);
    const seen = new Map<number, string[]>();
    const subscribers = await Promise.all(
      others.map(async (port) => {
        const subscriber = createClient({ socket: { host: '127.0.0.1', port }, RESP: 2 });
        subscriber.on('error', () => {});
        await subscriber.connect();
        seen.set(port, []);
        await subscriber.pSubscribe(`${enigmaPrefix}:notifications:agents:*`, (message, channel) => seen.get(port)?.push(`${channel} ${JSON.parse(message).payload.status}`));
        return subscriber;
      }),
    );
    const statuses = ['available', 'busy', 'wrapup', 'on_break', 'offline'];
    for (const [i, status] of statuses.entries()) {
      expect((await postEvents(hubA.url, { type: 'agent.status_changed', data: { agent: `70${i}`, status } })).status).toBe(202);
    }
    const expected = statuses.map((status, i) => `${enigmaPrefix}:notifications:agents:70${i} ${status}`);
    await waitFor(() => others.every((port) => (seen.get(port)?.length ?? 0) >= expected.length), 20_000, 'both subscribers to see every status');
    for (const port of others) expect(seen.get(port)).toEqual(expected);
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
  });

  it('fills the Enigma CDR list through the relay: BRPOP with a cluster client takes every CDR once, oldest first', async () => {
    const listNode = await clusterNodeOf(cluster, cdrList);
    const logNode = await clusterNodeOf(cluster, 'sbtest:{log}:events');
    // The point of the relay: the list's slot is not the log's.
    expect(listNode).not.toBe(logNode);
    // Alternate hubs: both run the relay over the same log; each CDR must still land once.
    for (let n = 1; n <= 40; n += 1) {
      expect((await postEvents(n % 2 ? hubA.url : hubB.url, cdrEvent(1000 + n))).status).toBe(202);
    }
    const popped: string[] = [];
    while (popped.length < 40) {
      const reply = await integrator.brPop(cdrList, 10);
      if (!reply) throw new Error(`BRPOP timed out after ${popped.length} CDRs`);
      popped.push(JSON.parse(reply.element).payload.call_ref as string);
    }
    expect(popped).toEqual(Array.from({ length: 40 }, (_, i) => `call-${1001 + i}`));
    // Nothing doubled: a later CDR is the next and only entry.
    expect((await postEvents(hubB.url, cdrEvent(1041))).status).toBe(202);
    const next = await integrator.brPop(cdrList, 10);
    expect(JSON.parse(next?.element ?? '{}').payload.call_ref).toBe('call-1041');
    expect(await integrator.lLen(cdrList)).toBe(0);
  });

  it("delivers every CDR to an integrator's consumer group read with consumeCdrs({ cluster })", async () => {
    const registered = await api(hubA.url, 'POST', '/v1/integrators', { name: 'billing' });
    expect(registered.status).toBe(201);
    const seen: string[] = [];
    const stop = new AbortController();
    const worker = consumeCdrs({
      cluster: { nodes: nodes() },
      keyPrefix: 'sbtest',
      integrator: 'billing',
      consumer: 'billing-1',
      blockMs: 200,
      signal: stop.signal,
      handler: (cdr) => void seen.push(cdr.id),
    });
    for (let n = 1; n <= 20; n += 1) expect((await postEvents(hubB.url, cdrEvent(2000 + n))).status).toBe(202);
    await waitFor(() => seen.length >= 20, 20_000, 'the worker to receive every CDR');
    stop.abort();
    await worker;
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => `cdr-${2001 + i}`));
    const pending = (await integrator.sendCommand('sbtest:{log}:cdr', true, ['XPENDING', 'sbtest:{log}:cdr', 'billing'])) as [number];
    expect(Number(pending[0])).toBe(0);
  });

  it("fills a tenant-scoped integrator's own stream from the append script (same slot as the log)", async () => {
    const registered = await api(hubA.url, 'POST', '/v1/integrators', { name: 'acme-billing', scope: { domain: 'acme.example' } });
    expect(registered).toMatchObject({ status: 201, body: { stream: 'sbtest:{log}:cdr:acme-billing' } });
    const seen: string[] = [];
    const stop = new AbortController();
    const worker = consumeCdrs({
      cluster: { nodes: nodes() },
      keyPrefix: 'sbtest',
      integrator: 'acme-billing',
      consumer: 'acme-1',
      blockMs: 200,
      signal: stop.signal,
      handler: (cdr) => void seen.push(cdr.id),
    });
    for (let n = 1; n <= 10; n += 1) {
      const domain = n % 2 === 0 ? 'acme.example' : 'globex.example';
      expect((await postEvents(hubB.url, { ...cdrEvent(3000 + n), scope: { domain } })).status).toBe(202);
    }
    await waitFor(() => seen.length >= 5, 20_000, 'the scoped worker to receive its tenant\'s CDRs');
    stop.abort();
    await worker;
    expect(seen).toEqual(['cdr-3002', 'cdr-3004', 'cdr-3006', 'cdr-3008', 'cdr-3010']);
    expect((await api(hubB.url, 'DELETE', '/v1/integrators/acme-billing')).status).toBe(204);
  });

  it("fills a legacy list whose name the integrator chose (another slot) through the relay, once, in order; removal deletes it", async () => {
    const listKey = 'crm:cdr-queue';
    expect(await clusterNodeOf(cluster, listKey)).not.toBe(await clusterNodeOf(cluster, 'sbtest:{log}:events'));
    const registered = await api(hubA.url, 'POST', '/v1/integrators', { name: 'crm-legacy', listKey });
    expect(registered.status).toBe(201);
    expect(registered.body.list).toBe(listKey);
    expect(registered.body.legacyList).toBe(true);
    for (let n = 1; n <= 30; n += 1) expect((await postEvents(n % 2 ? hubA.url : hubB.url, cdrEvent(4000 + n))).status).toBe(202);
    const popped: string[] = [];
    while (popped.length < 30) {
      const reply = await integrator.brPop(listKey, 10);
      if (!reply) throw new Error(`BRPOP timed out after ${popped.length} CDRs`);
      popped.push(JSON.parse(reply.element).payload.call_ref as string);
    }
    expect(popped).toEqual(Array.from({ length: 30 }, (_, i) => `call-${4001 + i}`));
    expect(await integrator.lLen(listKey)).toBe(0);
    expect((await api(hubB.url, 'DELETE', '/v1/integrators/crm-legacy')).status).toBe(204);
    expect(await integrator.exists([listKey, `{${listKey}}:sbtest:relay`])).toBe(0);
  });

  it('delivers a webhook subscription from whichever hub holds its lease', async () => {
    const created = await api(hubA.url, 'POST', '/v1/subscriptions', { model: 'campaign', 'post-url': `${receiver.url}?c=1`, domain: 'cluster.example' });
    expect(created.status).toBe(200);
    const id = created.body.id as string;
    await waitFor(async () => (await api(hubB.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'] !== '', 20_000, 'a hub to own the subscription');
    // The worker takes events accepted from the moment it holds the lease; send until it posts.
    await waitFor(
      async () => {
        await postEvents(hubB.url, { type: 'campaign.status_changed', scope: { domain: 'cluster.example' }, data: { campaign: 'winter', status: 'started', ref: 'w1' } });
        return receiver.received.some((post) => post.headers['x-correlation-id'] === id);
      },
      30_000,
      'the subscription to be posted',
    );
    const posted = receiver.received.filter((post) => post.headers['x-correlation-id'] === id).flatMap((post) => JSON.parse(post.body) as { data: { campaign: string } }[]);
    expect(posted[0]?.data.campaign).toBe('winter');
  });

  it('passes CTI call data between two hubs', async () => {
    const auth = `Basic ${Buffer.from('cti:cti-secret').toString('base64')}`;
    const stored = await fetch(`${hubA.url}/cticache/DNIS-ANI`, {
      method: 'POST',
      headers: { authorization: auth, 'content-type': 'application/json' },
      body: JSON.stringify({ ani: '4420711112222', value: 'order-77' }),
    });
    expect(stored.status).toBe(201);
    const { dnis } = (await stored.json()) as { dnis: string };
    const fetched = await fetch(`${hubB.url}/cticache/DNIS-ANI/${dnis}:4420711112222`, { method: 'DELETE', headers: { authorization: auth } });
    expect(fetched.status).toBe(200);
    expect(((await fetched.json()) as { value: string }).value).toBe('order-77');
  });

  it('loses and doubles no CDR when a hub relaying the Enigma list is killed -9 mid-stream', async () => {
    const dataDir = tempDir('switchboard-data-');
    const configFile = join(tempDir('switchboard-config-'), 'switchboard.yaml');
    writeFileSync(configFile, ['keyPrefix: killrelay', 'profiles:', '  enigma:', '    prefix: kr', ''].join('\n'));
    const env = { SWITCHBOARD_CONFIG: configFile, SWITCHBOARD_REDIS_CLUSTER_NODES: cluster.nodeList, SWITCHBOARD_DATA_DIR: dataDir };
    let child: ChildHub = await startChildHub(env);
    const acknowledged: string[][] = [[], [], []];
    /** Sent, answered or not: a request in flight at the kill may have landed without its 202. */
    const sent: string[][] = [[], [], []];
    let sequence = 0;
    let stop = false;
    const connection = async (lane: number) => {
      while (!stop) {
        const n = ++sequence;
        const event = cdrEvent(5000 + n, { call_id: `lane${lane}-${n}` });
        sent[lane]?.push(`lane${lane}-${n}`);
        const answer = await postEvents(child.url, event).catch(() => undefined);
        if (answer?.status === 202) acknowledged[lane]?.push(`lane${lane}-${n}`);
        else if (answer) throw new Error(`refused: ${answer.status}`);
        else await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const lanes = [0, 1, 2].map((lane) => connection(lane));
    await waitFor(() => acknowledged.flat().length >= 60, 60_000, 'CDRs to flow');
    await child.kill('SIGKILL');
    const beforeKill = acknowledged.flat().length;
    child = await startChildHub(env);
    await waitFor(() => acknowledged.flat().length >= beforeKill + 60, 60_000, 'CDRs to flow through the restarted hub');
    stop = true;
    await Promise.all(lanes);

    const all = acknowledged.flat();
    const inList = async () => ((await integrator.lRange('kr:notifications:campaigns', 0, -1)) as string[]).reverse().map((message) => JSON.parse(message).payload.call_ref as string);
    // The list's length alone is no sign the relay is done: it also holds CDRs whose request the kill
    // cut off (landed, never answered), so it can reach `all.length` with an acknowledged one missing.
    let missing: string[] = all;
    await waitFor(
      async () => {
        const landedSoFar = new Set(await inList());
        missing = all.filter((ref) => !landedSoFar.has(ref));
        return missing.length === 0;
      },
      60_000,
      `the relay to push all ${all.length} acknowledged CDRs`,
    ).catch(() => undefined);
    // Nothing acknowledged missing, nothing doubled; beyond that only requests cut off by the kill.
    expect(missing).toEqual([]);
    const relayed = await inList();
    const landed = new Set(relayed);
    expect(landed.size).toBe(relayed.length);
    const unanswered = relayed.filter((ref) => !all.includes(ref));
    expect(unanswered.length).toBeLessThanOrEqual(3);
    for (const ref of unanswered) expect(sent.flat()).toContain(ref);
    // Each connection's CDRs in the order it sent them.
    for (const lane of sent) expect(relayed.filter((ref) => lane.includes(ref))).toEqual(lane.filter((ref) => landed.has(ref)));
    await child.kill('SIGTERM');
  });

  it('switchboard tail --cluster-nodes pattern-subscribes through the cluster and follows the log (--log)', async () => {
    const tail = spawn(process.execPath, [CLI, 'tail', `${enigmaPrefix}:notifications:agents:*`, '--cluster-nodes', cluster.nodeList], { stdio: ['ignore', 'pipe', 'pipe'] });
    const follow = spawn(process.execPath, [CLI, 'tail', '--log', '--key-prefix', 'sbtest'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '', SWITCHBOARD_REDIS_CLUSTER_NODES: cluster.nodeList },
    });
    let tailed = '';
    let followed = '';
    tail.stdout.on('data', (chunk: Buffer) => (tailed += chunk.toString()));
    follow.stdout.on('data', (chunk: Buffer) => (followed += chunk.toString()));
    try {
      await waitFor(() => tailed.includes('subscribed to') && followed.includes('following'), 20_000, 'both tails to start');
      await waitFor(
        async () => {
          await postEvents(hubB.url, { type: 'agent.status_changed', data: { agent: '7777', status: 'busy' } });
          return tailed.includes(`${enigmaPrefix}:notifications:agents:7777`) && followed.includes('agent.status_changed');
        },
        20_000,
        'the tails to print the notification and the log entry',
      );
      expect(tailed).toMatch(/agents:7777 \{"type":"status","payload":\{"status":"busy"/);
      expect(followed).toMatch(/agent\.status_changed \{.*"agent":"7777"/);
    } finally {
      tail.kill('SIGINT');
      follow.kill('SIGINT');
    }
  });

  it('is not ready, and says why, when given a single-node URL to a cluster node', async () => {
    const misconfigured = await startHub(`redis://127.0.0.1:${cluster.ports[0]}`, { keyPrefix: 'wrong' });
    try {
      const ready = await fetch(`${misconfigured.url}/readyz`);
      expect(ready.status).toBe(503);
      const body = (await ready.json()) as { reasons: string[] };
      expect(body.reasons.join(' ')).toMatch(/WRONG_TOPOLOGY.*cluster.*redis\.cluster\.nodes/s);
      const metrics = await (await fetch(`${misconfigured.url}/metrics`)).text();
      expect(metrics).toMatch(/switchboard_redis_fatal_errors_total\{code="WRONG_TOPOLOGY"\} 1/);
    } finally {
      await misconfigured.close();
    }
  });
});
