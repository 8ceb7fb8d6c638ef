import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { LocalRedisServer } from '../src/redis/local-server.js';
import { postEvents, startHub } from './helpers/hub.js';
import { cdrEvent } from './helpers/integrators.js';
import { connectClient, freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/** `redis.minReplicasAcked`: 202 only once WAIT confirms, else the spool holds the batch as well. */
describe('redis.minReplicasAcked', () => {
  let master: TestRedis;
  let replica: LocalRedisServer;
  let hub: Hub;

  beforeAll(async () => {
    master = await startRedis();
    const port = await freePort();
    replica = await LocalRedisServer.start({ port, dir: tempDir('switchboard-replica-'), extraArgs: ['--replicaof', '127.0.0.1', String(master.port), '--repl-diskless-sync-delay', '0'] });
    const client = await connectClient(master.url);
    await waitFor(async () => /connected_slaves:1[\s\S]*state=online/.test(await client.info('replication')), 30_000, 'the replica to sync');
    await client.quit();
    hub = await startHub(master.url, { redis: { minReplicasAcked: 1, replicaAckTimeoutMs: 100 } });
  });
  afterAll(async () => {
    if (replica?.pid) process.kill(replica.pid, 'SIGCONT');
    await hub?.close();
    await replica?.close();
    await master?.close();
  });

  const metric = async (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(await (await fetch(`${hub.url}/metrics`)).text())?.[1] ?? 0);
  const depth = async () => ((await (await fetch(`${hub.url}/readyz`)).json()) as { checks: { name: string; depth?: number }[] }).checks.find((check) => check.name === 'spool')?.depth;

  it('spools what the replica did not confirm, drains it once it does, and delivers every CDR once, in order', async () => {
    for (let n = 1; n <= 10; n += 1) expect((await postEvents(hub.url, cdrEvent(n))).status).toBe(202);
    expect(await metric('switchboard_replica_ack_shortfalls_total')).toBe(0);
    expect(await depth()).toBe(0);

    // A stalled replica: WAIT times out, the master has the batch, the hub still answers 202.
    process.kill(replica.pid as number, 'SIGSTOP');
    for (let n = 11; n <= 20; n += 1) {
      const answer = await postEvents(hub.url, cdrEvent(n));
      expect(answer.status).toBe(202);
      expect(answer.body.accepted).toBe(1);
    }
    expect(await metric('switchboard_replica_ack_shortfalls_total')).toBeGreaterThan(0);
    expect(await depth()).toBeGreaterThan(0);
    expect((await fetch(`${hub.url}/readyz`)).status).toBe(503);

    process.kill(replica.pid as number, 'SIGCONT');
    await waitFor(async () => (await depth()) === 0, 30_000, 'the spool to drain once the replica confirms');
    const client = await connectClient(master.url);
    const list = (await client.lRange('enigma:notifications:campaigns', 0, -1)).reverse().map((message) => JSON.parse(message).payload.call_ref as string);
    const replicaClient = await connectClient(`redis://127.0.0.1:${replica.port}`);
    const onReplica = await replicaClient.lLen('enigma:notifications:campaigns');
    await Promise.all([client.quit(), replicaClient.quit()]);
    // The drain's re-append found every event already there: dropped by the dedup window, not doubled.
    expect(list).toEqual(Array.from({ length: 20 }, (_, i) => `call-${i + 1}`));
    expect(onReplica).toBe(20);
    expect(await metric('switchboard_events_duplicate_total')).toBe(0);
  });
});

/** A Redis error that retrying will not cure turns /readyz to 503 naming it, once in the log, in a metric. */
describe('readiness on Redis errors that do not cure themselves', () => {
  let master: TestRedis;
  let replica: LocalRedisServer;

  beforeAll(async () => {
    master = await startRedis();
    replica = await LocalRedisServer.start({ port: await freePort(), dir: tempDir('switchboard-replica-'), extraArgs: ['--replicaof', '127.0.0.1', String(master.port)] });
    const client = await connectClient(master.url);
    // An ACL user that may not run scripts.
    await client.sendCommand(['ACL', 'SETUSER', 'limited', 'on', '>limited-secret', '~*', '&*', '+@all', '-evalsha', '-eval']);
    await client.quit();
  });
  afterAll(async () => {
    await replica?.close();
    await master?.close();
  });

  const check = async (hub: Hub, code: RegExp) => {
    await postEvents(hub.url, cdrEvent(1));
    await waitFor(async () => (await fetch(`${hub.url}/readyz`)).status === 503, 20_000, 'readiness to fail');
    const body = (await (await fetch(`${hub.url}/readyz`)).json()) as { reasons: string[]; checks: { name: string; code?: string }[] };
    expect(body.reasons.join(' ')).toMatch(code);
    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`switchboard_redis_fatal_errors_total\\{code="${body.checks.find((item) => item.code)?.code}"\\} [1-9]`));
  };

  it('READONLY: a URL to a replica', async () => {
    const hub = await startHub(`redis://127.0.0.1:${replica.port}`, { shutdownTimeoutMs: 200 });
    try {
      await check(hub, /READONLY.*replica.*master/);
    } finally {
      await hub.close();
    }
  });

  it('NOPERM: an ACL user that may not run the append script', async () => {
    const hub = await startHub(`redis://limited:limited-secret@127.0.0.1:${master.port}`, { shutdownTimeoutMs: 200 });
    try {
      await check(hub, /NOPERM.*permission/);
    } finally {
      await hub.close();
    }
  });

  it('WRONGPASS: a wrong password', async () => {
    const hub = await startHub(`redis://limited:not-the-password@127.0.0.1:${master.port}`, { shutdownTimeoutMs: 200 });
    try {
      await check(hub, /WRONGPASS.*password/);
    } finally {
      await hub.close();
    }
  });
});
