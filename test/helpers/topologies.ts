import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient } from 'redis';
import { LocalRedisServer, isPortOpen } from '../../src/redis/local-server.js';
import { freePort, tempDir } from './redis.js';
import { waitFor } from './wait.js';

const run = promisify(execFile);

/**
 * Real Redis topologies started by the suite on free ports, no Docker: a Sentinel-watched master
 * with replicas, and a Redis Cluster built with `redis-cli --cluster create`. The same commands
 * are in docs/deployment.md.
 */

export interface SentinelTopology {
  /** The master name the Sentinels monitor. */
  name: string;
  sentinels: { host: string; port: number }[];
  /** `host:port` of each Sentinel (the SWITCHBOARD_REDIS_SENTINELS format). */
  sentinelList: string;
  /** Data nodes by port; the first one started as the master. */
  nodes: Map<number, LocalRedisServer>;
  /** The port of the current master, as the Sentinels say. */
  masterPort(): Promise<number>;
  /** `kill -9` the current master; resolves once the Sentinels have promoted a replica and the other replicas follow it, in sync. */
  killMaster(): Promise<{ oldPort: number; newPort: number }>;
  /** Resolves once every live replica replicates the current master with its link up. */
  replicasInSync(): Promise<void>;
  close(): Promise<void>;
}

async function command(port: number, args: string[]): Promise<unknown> {
  const client = createClient({ socket: { port, host: '127.0.0.1', connectTimeout: 2000, reconnectStrategy: false }, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.sendCommand(args);
  } finally {
    client.destroy();
  }
}

/**
 * A master, `replicas` replicas and `sentinels` Sentinels (quorum 2) that decide a master is down
 * after `downAfterMs` of silence. Append-only on every data node.
 */
export async function startSentinelTopology(options: { replicas?: number; sentinels?: number; downAfterMs?: number; failoverTimeoutMs?: number } = {}): Promise<SentinelTopology> {
  const name = 'sbmaster';
  const dir = tempDir('switchboard-sentinel-');
  const nodes = new Map<number, LocalRedisServer>();
  const sentinelServers: LocalRedisServer[] = [];
  const masterPort = await freePort();
  // Every data node has a priority: Sentinel promotes a replica that was in sync.
  // No 5 s wait before a diskless full sync (the default): a replica is in sync seconds sooner.
  const nodeArgs = ['--repl-ping-replica-period', '1', '--repl-timeout', '5', '--repl-diskless-sync-delay', '0'];
  nodes.set(masterPort, await LocalRedisServer.start({ port: masterPort, dir: join(dir, String(masterPort)), extraArgs: nodeArgs }));
  for (let i = 0; i < (options.replicas ?? 2); i += 1) {
    const port = await freePort();
    nodes.set(port, await LocalRedisServer.start({ port, dir: join(dir, String(port)), extraArgs: [...nodeArgs, '--replicaof', '127.0.0.1', String(masterPort)] }));
  }
  for (let i = 0; i < (options.sentinels ?? 3); i += 1) {
    const port = await freePort();
    const conf = join(dir, `sentinel-${port}.conf`);
    writeFileSync(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${name} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${name} ${options.downAfterMs ?? 1000}`,
        `sentinel failover-timeout ${name} ${options.failoverTimeoutMs ?? 3000}`,
        `sentinel parallel-syncs ${name} 2`,
        '',
      ].join('\n'),
    );
    sentinelServers.push(await LocalRedisServer.launch(port, dir, [conf, '--sentinel', '--loglevel', 'warning', '--logfile', '']));
  }
  const sentinels = sentinelServers.map((server) => ({ host: '127.0.0.1', port: server.port }));

  const topology: SentinelTopology = {
    name,
    sentinels,
    sentinelList: sentinels.map((sentinel) => `${sentinel.host}:${sentinel.port}`).join(','),
    nodes,
    async masterPort() {
      const [, port] = (await command(sentinels[0]!.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name])) as [string, string];
      return Number(port);
    },
    async killMaster() {
      const oldPort = await topology.masterPort();
      await nodes.get(oldPort)?.kill();
      let newPort = oldPort;
      await waitFor(
        async () => {
          const ports = await Promise.all(sentinels.map((sentinel) => command(sentinel.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', name]).catch(() => null)));
          const agreed = ports.map((reply) => Number((reply as [string, string] | null)?.[1]));
          newPort = agreed[0] ?? oldPort;
          if (newPort === oldPort || !agreed.every((port) => port === newPort)) return false;
          const role = String(await command(newPort, ['ROLE']).then((reply) => (reply as unknown[])[0]).catch(() => ''));
          return role === 'master';
        },
        60_000,
        'the Sentinels to promote a replica',
      );
      await topology.replicasInSync();
      return { oldPort, newPort };
    },
    async replicasInSync() {
      const master = await topology.masterPort();
      const replicas = [...nodes].filter(([port, server]) => port !== master && server.running).map(([port]) => port);
      await waitFor(
        async () => {
          const infos = await Promise.all(replicas.map((port) => command(port, ['INFO', 'replication']).catch(() => '')));
          return infos.every((info) => new RegExp(`master_port:${master}\\b`).test(String(info)) && /master_link_status:up/.test(String(info)));
        },
        60_000,
        'the replicas to replicate the master',
      );
    },
    async close() {
      await Promise.all(sentinelServers.map((server) => server.kill()));
      await Promise.all([...nodes.values()].map((server) => server.kill()));
    },
  };
  // The Sentinels know the replicas once they have asked the master (INFO every 10 s at first, faster after).
  await waitFor(
    async () => {
      const replicas = (await command(sentinels[0]!.port, ['SENTINEL', 'REPLICAS', name]).catch(() => [])) as unknown[];
      const known = (await command(sentinels[0]!.port, ['SENTINEL', 'SENTINELS', name]).catch(() => [])) as unknown[];
      return replicas.length === (options.replicas ?? 2) && known.length === sentinels.length - 1;
    },
    60_000,
    'the Sentinels to discover the replicas and each other',
  );
  await topology.replicasInSync();
  return topology;
}

export interface ClusterTopology {
  nodes: Map<number, LocalRedisServer>;
  /** `host:port` of every node (the SWITCHBOARD_REDIS_CLUSTER_NODES format). */
  nodeList: string;
  ports: number[];
  /** Resolves once every master has its replicas online (`WAIT` can be satisfied). */
  replicasInSync(): Promise<void>;
  /**
   * `kill -9` the master serving `key`'s slot; resolves once one of its replicas was promoted and
   * every live node agrees on every slot again.
   */
  killMasterOf(key: string): Promise<{ oldPort: number; newPort: number }>;
  close(): Promise<void>;
}

/** A port whose cluster bus port (+10000) is free too. */
async function freeClusterPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port + 10_000 <= 65_535 && !(await isPortOpen(port + 10_000))) return port;
  }
}

/** `masters` cluster masters (each with `replicasPerMaster` replicas), slots spread by `redis-cli --cluster create`. */
export async function startClusterTopology(options: { masters?: number; replicasPerMaster?: number; nodeTimeoutMs?: number } = {}): Promise<ClusterTopology> {
  const dir = tempDir('switchboard-cluster-');
  const count = (options.masters ?? 3) * (1 + (options.replicasPerMaster ?? 0));
  const nodes = new Map<number, LocalRedisServer>();
  for (let i = 0; i < count; i += 1) {
    const port = await freeClusterPort();
    const nodeDir = join(dir, String(port));
    nodes.set(
      port,
      await LocalRedisServer.start({
        port,
        dir: nodeDir,
        extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', join(nodeDir, 'nodes.conf'), '--cluster-node-timeout', String(options.nodeTimeoutMs ?? 1000)],
      }),
    );
  }
  const ports = [...nodes.keys()];
  const addresses = ports.map((port) => `127.0.0.1:${port}`);
  await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', String(options.replicasPerMaster ?? 0), '--cluster-yes'], { timeout: 60_000 });
  await waitFor(
    async () => {
      const infos = await Promise.all(ports.map((port) => command(port, ['CLUSTER', 'INFO']).catch(() => '')));
      return infos.every((info) => /cluster_state:ok/.test(String(info)) && /cluster_slots_ok:16384/.test(String(info)));
    },
    60_000,
    'the cluster to agree on every slot',
  );
  const livePorts = () => ports.filter((port) => nodes.get(port)?.running);
  const topology: ClusterTopology = {
    nodes,
    ports,
    nodeList: addresses.join(','),
    async replicasInSync() {
      const perMaster = options.replicasPerMaster ?? 0;
      await waitFor(
        async () => {
          const roles = (await Promise.all(livePorts().map((port) => command(port, ['ROLE']).catch(() => [])))) as unknown[][];
          const masters = roles.filter((role) => role[0] === 'master');
          // ROLE of a master: ['master', offset, [[host, port, offset], …]], one entry per connected replica.
          return masters.length === (options.masters ?? 3) && masters.every((role) => (role[2] as unknown[]).length >= perMaster);
        },
        60_000,
        'every master to have its replicas',
      );
    },
    async killMasterOf(key) {
      const oldPort = await clusterNodeOf(topology, key);
      await nodes.get(oldPort)?.kill();
      let newPort = oldPort;
      await waitFor(
        async () => {
          const live = livePorts();
          const infos = await Promise.all(live.map((port) => command(port, ['CLUSTER', 'INFO']).catch(() => '')));
          if (!infos.every((info) => /cluster_state:ok/.test(String(info)))) return false;
          newPort = await clusterNodeOf({ ...topology, ports: live }, key).catch(() => oldPort);
          return newPort !== oldPort;
        },
        60_000,
        `a replica to take over the slot of ${key}`,
      );
      return { oldPort, newPort };
    },
    async close() {
      await Promise.all([...nodes.values()].map((server) => server.kill()));
    },
  };
  return topology;
}

/** The cluster node serving `key`'s slot (CLUSTER KEYSLOT, CLUSTER SLOTS). */
export async function clusterNodeOf(cluster: ClusterTopology, key: string): Promise<number> {
  const anyPort = cluster.ports[0] as number;
  const slot = Number(await command(anyPort, ['CLUSTER', 'KEYSLOT', key]));
  const ranges = (await command(anyPort, ['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to);
  if (!range) throw new Error(`no node serves slot ${slot}`);
  return Number(range[2][1]);
}

export { command as redisCommand };
