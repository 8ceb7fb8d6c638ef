import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { eventLogKey } from '../src/redis/keys.js';
import { postEvents, runCli, startChildHub, startHub, TEST_TOKEN, type ChildHub } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { connectClient, freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

const TEN_MINUTES_MS = 600_000;

describe('the built CLI has what the API has', () => {
  let redis: TestRedis;
  let hub: Hub;
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, { webhooks: { allowPrivateTargets: true } });
    env = { SWITCHBOARD_URL: hub.url, SWITCHBOARD_API_TOKEN: TEST_TOKEN };
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  const json = async (args: string[]) => {
    const { code, output } = await runCli(args, env);
    expect(code, output).toBe(0);
    return JSON.parse(output) as Record<string, unknown>;
  };

  it('subscriptions create --preferred-server sets the subscription\'s preferred server', async () => {
    const created = await json(['subscriptions', 'create', '--model', 'cdr', '--post-url', 'http://127.0.0.1:9/preferred', '--preferred-server', 'node-b']);
    expect(created['preferred-server']).toBe('node-b');
    const shown = await json(['subscriptions', 'show', created.id as string]);
    expect(shown['preferred-server']).toBe('node-b');
    const plain = await json(['subscriptions', 'create', '--model', 'cdr', '--post-url', 'http://127.0.0.1:9/plain']);
    expect(plain['preferred-server']).toBe('');
  });

  it('subscriptions replay --since takes a duration (10m) as well as a time', async () => {
    const created = await json(['subscriptions', 'create', '--model', 'cdr', '--post-url', 'http://127.0.0.1:9/replay']);
    const id = created.id as string;
    const before = Date.now();
    const replay = await json(['subscriptions', 'replay', id, '--since', '10m']);
    const after = Date.now();
    expect(replay.id).toBe(id);
    const since = Date.parse(replay.since as string);
    expect(since).toBeGreaterThanOrEqual(before - TEN_MINUTES_MS - 1000);
    expect(since).toBeLessThanOrEqual(after - TEN_MINUTES_MS);

    const time = new Date(before - 60_000).toISOString();
    expect(await json(['subscriptions', 'replay', id, '--since', time])).toEqual({ id, since: time });

    const wrong = await runCli(['subscriptions', 'replay', id, '--since', '10 minutes'], env);
    expect(wrong.code).toBe(1);
    expect(wrong.output).toMatch(/^switchboard: VALIDATION_FAILED: .*since/m);
  });

  it('replay <integrator> --since 10m reads the CDRs of the last ten minutes, in order', async () => {
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'first-hour' })).status).toBe(201);
    expect((await postEvents(hub.url, [cdrEvent(1), cdrEvent(2), cdrEvent(3)])).status).toBe(202);
    const { code, output } = await runCli(['replay', 'first-hour', '--since', '10m'], env);
    expect(code, output).toBe(0);
    const ids = output.trim().split('\n').map((line) => (JSON.parse(line) as { id: string }).id);
    expect(ids).toEqual(['cdr-1', 'cdr-2', 'cdr-3']);
    const future = await runCli(['replay', 'first-hour', '--since', new Date(Date.now() + TEN_MINUTES_MS).toISOString()], env);
    expect(future.output).not.toContain('cdr-1');
  });
});

describe('tail at a Redis that is not there', () => {
  it('says once what failed and where to set the address, and exits 1', async () => {
    const port = await freePort();
    for (const extra of [[], ['--log']]) {
      const { code, output } = await runCli(['tail', '--redis', `redis://127.0.0.1:${port}`, ...extra], {}, 30_000);
      expect(code).toBe(1);
      expect(output).toBe(
        `switchboard: REDIS_UNAVAILABLE: cannot reach Redis at redis://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}: is Redis running, and is it the hub's? (--redis, SWITCHBOARD_REDIS_URL)\n`,
      );
    }
  });
});

describe('the CLI reads the environment the hub was started with', () => {
  let redis: TestRedis;
  let hub: ChildHub;
  /** What a person exports once, for `npm start` and for the CLI beside it. */
  let env: Record<string, string>;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    const config = join(tempDir('switchboard-config-'), 'switchboard.yaml');
    writeFileSync(config, `redis:\n  url: ${redis.url}\nkeyPrefix: firsthour\n`);
    hub = await startChildHub({ SWITCHBOARD_CONFIG: config, SWITCHBOARD_DATA_DIR: tempDir('switchboard-data-') });
    env = { SWITCHBOARD_CONFIG: config, SWITCHBOARD_HTTP_PORT: new URL(hub.url).port, SWITCHBOARD_API_TOKEN: TEST_TOKEN };
  }, 90_000);
  afterAll(async () => {
    await hub?.kill('SIGTERM');
    await redis?.close();
  });

  it('simulate posts to the hub on SWITCHBOARD_HTTP_PORT, with no --url', async () => {
    const client = await connectClient(redis.url);
    const { code, output } = await runCli(['simulate', '--duration', '1', '--rate', '20'], env);
    expect(code, output).toBe(0);
    expect(output).toContain('summary:');
    expect(await client.xLen(eventLogKey('firsthour'))).toBeGreaterThan(0);
    await client.quit();
  });

  it("tail --log follows the hub's Redis and key prefix from its config file, with no --redis or --key-prefix", async () => {
    const tail = spawn(process.execPath, [CLI, 'tail', '--log'], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    tail.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    tail.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor(() => output.includes('following'), 20_000, 'tail to start');
      expect(output.split('\n')[0]).toBe(`following ${eventLogKey('firsthour')} on ${redis.url} (Ctrl-C to stop)`);
      const trigger = await runCli(['trigger', 'cdr'], env);
      expect(trigger.code, trigger.output).toBe(0);
      await waitFor(() => output.includes(' cdr.created {'), 20_000, 'the triggered CDR in tail');
    } finally {
      tail.kill('SIGINT');
    }
  });

  it('an option still wins over the environment', async () => {
    const port = await freePort();
    const { code, output } = await runCli(['tail', '--redis', `redis://127.0.0.1:${port}`], env);
    expect(code).toBe(1);
    expect(output).toContain(`cannot reach Redis at redis://127.0.0.1:${port}`);
  });
});
