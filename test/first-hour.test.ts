import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { StartupError } from '../src/errors.js';
import { Hub } from '../src/hub.js';
import { isPortOpen } from '../src/redis/local-server.js';
import { runCli, startChildHub, startHub, TEST_TOKEN } from './helpers/hub.js';
import { connectClient, freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
/** A stack trace line, as Node prints them. */
const STACK_LINE = /^\s+at /m;

/** A TCP listener holding a port, as another program would. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  const server = createServer(() => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

describe('the CLI, as a person runs it', () => {
  let redis: TestRedis;
  let hub: Hub;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url);
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('prints one line with the URL and where to set it when the hub is not running', async () => {
    const port = await freePort();
    const { code, output } = await runCli(['subscriptions', 'list', '--url', `http://127.0.0.1:${port}`], {});
    expect(code).toBe(1);
    expect(output).toBe(`switchboard: cannot reach http://127.0.0.1:${port}: is the hub running? (--url, SWITCHBOARD_URL)\n`);
  });

  it('simulate stops at once at an unreachable hub, with the same hint', async () => {
    const port = await freePort();
    const { code, output } = await runCli(['simulate', '--url', `http://127.0.0.1:${port}`, '--duration', '60'], {});
    expect(code).toBe(1);
    expect(output).toContain(`switchboard: cannot reach http://127.0.0.1:${port}: is the hub running? (--url, SWITCHBOARD_URL)\n`);
    expect(output).not.toContain('summary:');
    expect(output).not.toMatch(STACK_LINE);
  });

  it('simulate stops at the first 401, names the code and how to pass a token, and sends nothing more', async () => {
    const client = await connectClient(redis.url);
    const before = await client.xLen(hub.context.keys.eventLog);
    const { code, output } = await runCli(['simulate', '--url', hub.url, '--token', 'wrong-token-0123456789', '--duration', '60'], {});
    expect(code).toBe(1);
    expect(output).toMatch(/^switchboard: AUTH_INVALID: .* \(HTTP 401\) \(--token, SWITCHBOARD_API_TOKEN\)$/m);
    expect(output).not.toMatch(STACK_LINE);
    expect(await client.xLen(hub.context.keys.eventLog)).toBe(before);
    await client.quit();
  });

  it('prints its version', async () => {
    for (const flag of ['--version', '-V']) {
      const { code, output } = await runCli([flag], {});
      expect(code).toBe(0);
      expect(output).toBe(`${version}\n`);
    }
  });

  it('exits quietly (0) when its reader goes away (`… | head`: EPIPE)', async () => {
    const child = spawn(process.execPath, [CLI, 'integrators', 'list', '--url', hub.url, '--token', TEST_TOKEN], {
      env: { PATH: process.env.PATH ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy(); // the reader is gone before the CLI writes
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(stderr).toBe('');
    expect(code).toBe(0);
  });
});

describe('start-up failures', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('a port in use: one line naming SWITCHBOARD_HTTP_PORT, exit 1, no stack trace', async () => {
    const busy = await occupyPort();
    try {
      const { code, output } = await runCli(['start'], {
        SWITCHBOARD_HTTP_PORT: String(busy.port),
        SWITCHBOARD_REDIS_URL: redis.url,
        SWITCHBOARD_DATA_DIR: tempDir(),
        SWITCHBOARD_LOG_LEVEL: 'error',
      });
      expect(code).toBe(1);
      expect(output).toBe(
        `switchboard: STARTUP_FAILED: cannot listen on 127.0.0.1:${busy.port}: the port is in use by another process; stop it, or choose another port with SWITCHBOARD_HTTP_PORT (http.port)\n`,
      );
    } finally {
      busy.server.close();
    }
  });

  it('a failed start rolls back: no Redis client, no background work, the data dir free for the next start', async () => {
    const busy = await occupyPort();
    const dataDir = tempDir('switchboard-data-');
    const config = (port: number) =>
      Object.freeze(
        parseConfig({
          dataDir,
          logLevel: 'silent',
          keyPrefix: 'sbrollback',
          http: { port },
          redis: { url: redis.url, commandTimeoutMs: 300 },
          auth: { apiToken: TEST_TOKEN },
          // A CTI pool, so every kind of component is built before the bind fails.
          cti: { users: [{ username: 'u', password: 'p' }], defaultPool: 'p', pools: { p: ['5550000000-5550000009'] } },
        }),
      );
    const client = await connectClient(redis.url);
    const hubClients = async () => ((await client.sendCommand(['CLIENT', 'LIST'])) as string).split('\n').filter((line) => / name=switchboard/.test(line));
    try {
      await expect(Hub.start(config(busy.port))).rejects.toBeInstanceOf(StartupError);
      // Every connection the start opened is closed (CLIENT LIST lags a closing socket briefly).
      await waitFor(async () => (await hubClients()).length === 0, 20_000, 'the failed start to close its Redis clients');
      // HTTP failed before any background work: no webhook slot lease was ever taken.
      expect(await client.keys('sbrollback:{wh:*}:lease')).toEqual([]);
    } finally {
      busy.server.close();
    }
    // The spool and the port are released: the same config starts on a free port.
    const hub = await Hub.start(config(0));
    try {
      expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
    } finally {
      await hub.close();
      await client.quit();
    }
  });

  it('names the Redis URL it cannot reach, and the banner shows --token when auth is on', async () => {
    const nowhere = await freePort();
    const child = await startChildHub({ SWITCHBOARD_REDIS_URL: `redis://127.0.0.1:${nowhere}`, SWITCHBOARD_DATA_DIR: tempDir(), SWITCHBOARD_LOG_LEVEL: 'warn' });
    try {
      await waitFor(() => child.output().includes('simulate --url'), 60_000, 'the start banner');
    } catch (error) {
      await child.kill('SIGKILL');
      throw error;
    }
    expect(child.output()).toContain(`redis redis://127.0.0.1:${nowhere} is not reachable`);
    expect(child.output()).toContain(`simulate --url ${child.url} --token "$SWITCHBOARD_API_TOKEN"`);
    // The background work waits for Redis too, and says so in words (a node-redis timeout has an empty message).
    await waitFor(() => child.output().includes('webhook dispatcher cannot load subscriptions yet; retrying: Redis did not answer in time'), 60_000, 'the webhooks warning');
    // Redis is still away: SIGTERM drains (into the spool) and exits 0 all the same.
    const code = await child.kill('SIGTERM');
    expect(code, child.output().slice(-3000)).toBe(0);
    const lines = child.output().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as { level: number; msg: string; err?: unknown });
    const warnings = lines.filter((line) => line.level === 40);
    expect(warnings.length).toBeGreaterThan(2);
    for (const warning of warnings) {
      expect(warning.msg).not.toMatch(/(: |: Error)$/);
      expect(warning.err, warning.msg).toBeUndefined();
    }
    // Closing its own connections is not reported as a failure.
    expect(child.output()).not.toContain('Disconnects client');
    expect(child.output()).not.toMatch(STACK_LINE);
  });

  it('Ctrl-C in the terminal: the launched redis-server is not interrupted, the hub drains, stops it and exits 0 without stack traces', async () => {
    const [httpPort, redisPort] = [await freePort(), await freePort()];
    const dataDir = tempDir();
    // Its own process group, like a shell's foreground job: Ctrl-C signals the whole group.
    const child = spawn(process.execPath, [CLI, 'start'], {
      env: {
        PATH: process.env.PATH ?? '',
        SWITCHBOARD_HTTP_PORT: String(httpPort),
        SWITCHBOARD_DATA_DIR: dataDir,
        SWITCHBOARD_CONFIG: writeConfig(dataDir, { redis: { localPort: redisPort, launchLocal: true } }),
        SWITCHBOARD_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit') as Promise<[number | null, string | null]>;
    await waitFor(() => output.includes('simulate --url'), 60_000, 'the hub to start with its own redis-server');
    expect(output).toContain('launched a local redis-server');
    const accepted = await fetch(`http://127.0.0.1:${httpPort}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'before-ctrl-c', type: 'agent.status_changed', data: { agent: '1002', status: 'available' } }),
    });
    expect(accepted.status).toBe(202);

    process.kill(-(child.pid as number), 'SIGINT');
    const [code] = await exited;
    expect(code).toBe(0);
    expect(output).toContain('"msg":"stopped"');
    expect(output).not.toMatch(STACK_LINE);
    expect(output).not.toContain('"level":50');
    // The hub stopped the redis-server it launched, after draining into it.
    await waitFor(async () => !(await isPortOpen(redisPort)), 20_000, 'the launched redis-server to stop');
  });
});

function writeConfig(dir: string, config: Record<string, unknown>): string {
  const file = join(dir, 'switchboard.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}
