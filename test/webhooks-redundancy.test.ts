import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postEvents, startChildHub, type ChildHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { sleep, waitFor } from './helpers/wait.js';

/** Short, so the test is quick; node c's long ttl gives its restart room on a loaded machine (a start can take 10 s there). */
const STABLE_MS = 3000;
const TTL_MS: Record<string, number> = { a: 2400, b: 2400, c: 30_000 };
const HEARTBEAT_MS = (node: string) => (TTL_MS[node] as number) / 3;
const PREFIX = 'sbha';

type Owners = Record<string, string>;

describe('event subscriptions: three hub processes, placement, kill -9, restart and preferred fail-back', () => {
  let redis: TestRedis;
  let registryClient: Awaited<ReturnType<typeof connectClient>>;
  let receiver: Receiver;
  const hubs = new Map<string, ChildHub>();
  const ids: string[] = [];
  const accepted: string[] = [];
  let producing = true;
  let producer: Promise<void> = Promise.resolve();

  async function start(node: string): Promise<ChildHub> {
    const dir = tempDir(`switchboard-ha-${node}-`);
    const file = join(dir, 'switchboard.json');
    writeFileSync(
      file,
      JSON.stringify({
        keyPrefix: PREFIX,
        dataDir: dir,
        redis: { url: redis.url },
        webhooks: {
          nodeId: node,
          leaseTtlMs: TTL_MS[node],
          stableAfterMs: STABLE_MS,
          allowPrivateTargets: true,
          pollIntervalMs: 100,
          batchLingerMs: 20,
          batchMaxEvents: 20,
          retryScheduleMs: [100, 200, 400, 800, 1600],
          retryJitter: 0,
          throttleFloorMs: 0,
        },
      }),
    );
    // Three node processes starting at once on a loaded 2-core machine can take a while.
    const hub = await startChildHub({ SWITCHBOARD_CONFIG: file }, { startTimeoutMs: 60_000 });
    hubs.set(node, hub);
    return hub;
  }

  async function kill(node: string): Promise<number> {
    const hub = hubs.get(node);
    hubs.delete(node);
    await hub?.kill('SIGKILL');
    return Date.now();
  }

  const anyHub = () => [...hubs.values()][0] as ChildHub;

  async function owners(): Promise<Owners> {
    const list = await api(anyHub().url, 'GET', '/v1/subscriptions');
    return Object.fromEntries((list.body as unknown as { id: string; 'current-active-server': string }[]).map((sub) => [sub.id, sub['current-active-server']]));
  }

  const countOn = (placed: Owners, node: string) => Object.values(placed).filter((owner) => owner === node).length;

  async function eligible(hub: ChildHub): Promise<boolean> {
    const body = (await (await fetch(`${hub.url}/readyz`)).json()) as { checks: { name: string; eligible?: boolean }[] };
    return body.checks.find((check) => check.name === 'webhooks')?.eligible === true;
  }

  async function ownerChanges() {
    const client = await connectClient(redis.url);
    const entries = await client.xRange(`${PREFIX}:{log}:events`, '-', '+');
    await client.quit();
    return (entries ?? [])
      .filter((entry) => entry.message.type === 'subscription.owner_changed')
      .map((entry) => (JSON.parse(entry.message.event ?? '{}') as { data: { subscription_id: string; from: string; to: string; reason: string } }).data);
  }

  beforeAll(async () => {
    redis = await startRedis();
    registryClient = await connectClient(redis.url);
    receiver = await startReceiver();
    await Promise.all(['a', 'b', 'c'].map((node) => start(node)));
    await waitFor(async () => (await Promise.all([...hubs.values()].map(eligible))).every(Boolean), 30_000, 'all three nodes eligible');
  }, 240_000);

  afterAll(async () => {
    producing = false;
    await producer;
    for (const node of [...hubs.keys()]) await kill(node);
    await registryClient?.quit();
    await receiver?.close();
    await redis?.close();
  }, 120_000);

  it('places six subscriptions two per node with the preferred ones on b, and names a next server', async () => {
    for (let n = 0; n < 6; n += 1) {
      const created = await api(anyHub().url, 'POST', '/v1/subscriptions', {
        model: 'cdr',
        'post-url': `${receiver.url}?sub=${n}`,
        domain: 'ha.example',
        ...(n < 2 ? { 'preferred-server': 'b' } : {}),
      });
      expect(created.status).toBe(200);
      ids.push(created.body.id as string);
    }
    await waitFor(async () => {
      const placed = await owners();
      return ['a', 'b', 'c'].every((node) => countOn(placed, node) === 2);
    }, 30_000, 'two subscriptions per node');
    const placed = await owners();
    expect(placed[ids[0] as string]).toBe('b');
    expect(placed[ids[1] as string]).toBe('b');
    for (const id of ids) {
      const sub = (await api(anyHub().url, 'GET', `/v1/subscriptions/${id}`)).body;
      expect(['a', 'b', 'c']).toContain(sub['next-server']);
      expect(sub['next-server']).not.toBe(sub['current-active-server']);
    }

    // From here on a steady stream of CDRs, accepted by whichever nodes are up.
    producer = (async () => {
      for (let n = 0; producing; n += 1) {
        const live = [...hubs.values()];
        const hub = live[n % Math.max(1, live.length)];
        const id = `ha-${n}`;
        const answer = hub
          ? await postEvents(hub.url, {
              id,
              type: 'cdr.created',
              scope: { domain: 'ha.example' },
              data: { call_id: `call-${n}`, number: '+4420700', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' },
            }).catch(() => undefined)
          : undefined;
        if (answer?.status === 202) accepted.push(id);
        await sleep(25);
      }
    })();
    await waitFor(() => accepted.length >= 20, 20_000, 'events flowing');
  }, 240_000);

  it('kill -9 of a node moves its subscriptions to live nodes within the lease ttl plus one heartbeat', async () => {
    const placedBefore = await owners();
    const onA = ids.filter((id) => placedBefore[id] === 'a');
    expect(onA).toHaveLength(2);
    const killedAt = await kill('a');
    await waitFor(async () => {
      const placed = await owners();
      return onA.every((id) => placed[id] === 'b' || placed[id] === 'c');
    }, 30_000, "node a's subscriptions on live nodes");
    const movedAfterMs = Date.now() - killedAt;
    process.stdout.write(`kill -9 → subscriptions moved in ${movedAfterMs} ms (lease ttl ${TTL_MS.a} ms + heartbeat ${HEARTBEAT_MS('a')} ms)\n`);
    // The bound, plus what the polling above and a loaded machine add.
    expect(movedAfterMs).toBeLessThanOrEqual((TTL_MS.a as number) + HEARTBEAT_MS('a') + 1500);
    const moves = (await ownerChanges()).filter((move) => onA.includes(move.subscription_id));
    expect(moves).toHaveLength(2);
    for (const move of moves) expect(move).toMatchObject({ from: 'a', reason: 'failover' });
    // Balanced over the two nodes left: the pinned pair stays on b.
    const placed = await owners();
    expect(countOn(placed, 'b') + countOn(placed, 'c')).toBe(6);
    expect(Math.abs(countOn(placed, 'b') - countOn(placed, 'c'))).toBeLessThanOrEqual(1);
  }, 240_000);

  it('a node restarted under the same nodeId within its ttl keeps what it had: nothing moves', async () => {
    const placedBefore = await owners();
    const onC = ids.filter((id) => placedBefore[id] === 'c');
    const changesBefore = (await ownerChanges()).length;
    const eligibleAt = () => registryClient.hGet(`${PREFIX}:{ctl}:nodes:eligible-at`, 'c');
    const standingBefore = await eligibleAt();
    expect(Number(standingBefore)).toBeGreaterThan(0);
    const killedAt = await kill('c');
    const hub = await start('c');
    expect(Date.now() - killedAt).toBeLessThan(TTL_MS.c as number);
    // It kept its place in the registry: eligible at once, not after a new stable period.
    await waitFor(() => eligible(hub), 20_000, 'c eligible');
    expect(await eligibleAt()).toBe(standingBefore);
    // Its subscriptions never left c, and c delivers them again (it has taken their leases back).
    await waitFor(async () => {
      const readyz = (await (await fetch(`${hub.url}/readyz`)).json()) as { checks: { name: string; subscriptions?: number }[] };
      return readyz.checks.find((check) => check.name === 'webhooks')?.subscriptions === onC.length;
    }, 20_000, 'c to deliver its subscriptions again');
    const placed = await owners();
    for (const id of onC) expect(placed[id]).toBe('c');
    expect((await ownerChanges()).slice(changesBefore)).toEqual([]);
  }, 240_000);

  it('killing the preferred node moves its subscriptions away; restarted, it takes them back only after stableAfterMs', async () => {
    // First bring a back (a new node now: its ttl ran out) so that b's pair has somewhere to go besides c.
    await start('a');
    await waitFor(async () => {
      const placed = await owners();
      return ['a', 'b', 'c'].every((node) => countOn(placed, node) === 2);
    }, 60_000, 'rebalanced after a returned');
    const pinned = [ids[0], ids[1]] as string[];
    await kill('b');
    await waitFor(async () => {
      const placed = await owners();
      return pinned.every((id) => placed[id] === 'a' || placed[id] === 'c');
    }, 60_000, 'the preferred pair away from b');
    const failovers = (await ownerChanges()).filter((move) => pinned.includes(move.subscription_id) && move.from === 'b');
    expect(failovers.map((move) => move.reason)).toEqual(['failover', 'failover']);

    const restartedAt = Date.now();
    await start('b');
    let backAt = 0;
    await waitFor(async () => {
      const placed = await owners();
      if (pinned.every((id) => placed[id] === 'b')) backAt = Date.now();
      else expect(pinned.some((id) => placed[id] === 'b') && Date.now() - restartedAt < STABLE_MS).toBe(false);
      return backAt > 0;
    }, 60_000, 'fail-back to b');
    process.stdout.write(`preferred fail-back ${backAt - restartedAt} ms after the restart (stableAfterMs ${STABLE_MS})\n`);
    expect(backAt - restartedAt).toBeGreaterThanOrEqual(STABLE_MS);
    const failbacks = (await ownerChanges()).filter((move) => pinned.includes(move.subscription_id) && move.to === 'b' && move.reason === 'preferred');
    expect(failbacks).toHaveLength(2);
  }, 240_000);

  it('every CDR accepted reached every subscription: zero loss; duplicates counted, each under its batch webhook-id', async () => {
    const last = accepted.length;
    await waitFor(() => accepted.length >= last + 20, 20_000, 'more events after the moves');
    producing = false;
    await producer;
    let duplicates = 0;
    for (const id of ids) {
      const posts = receiver.received.filter((post) => post.headers['x-correlation-id'] === id);
      const seen = () => new Set(posts.flatMap((post) => (JSON.parse(post.body) as { id: string }[]).map((object) => object.id)));
      await receiver.waitFor(() => {
        posts.splice(0, posts.length, ...receiver.received.filter((post) => post.headers['x-correlation-id'] === id));
        return accepted.every((eventId) => seen().has(eventId));
      }, 30_000);
      const webhookIds = new Map<string, Set<string>>();
      let objects = 0;
      for (const post of posts) {
        for (const object of JSON.parse(post.body) as { id: string }[]) {
          objects += 1;
          const set = webhookIds.get(object.id) ?? new Set<string>();
          set.add(String(post.headers['webhook-id']));
          webhookIds.set(object.id, set);
        }
      }
      const missing = accepted.filter((eventId) => !webhookIds.has(eventId));
      expect(missing).toEqual([]);
      duplicates += objects - webhookIds.size;
      // A re-sent event came again in the same batch, under the same webhook-id.
      for (const [eventId, set] of webhookIds) expect([eventId, set.size]).toEqual([eventId, 1]);
    }
    process.stdout.write(`${accepted.length} CDRs × ${ids.length} subscriptions: 0 lost, ${duplicates} duplicates across 3 kill -9s\n`);
    expect(accepted.length).toBeGreaterThan(100);
  }, 240_000);
});
