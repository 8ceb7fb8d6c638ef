import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/load.js';
import { isPortOpen } from '../src/redis/local-server.js';
import { connectClient, freePort, startRedis, tempDir } from './helpers/redis.js';
import { postEvents, runCli, startChildHub } from './helpers/hub.js';

describe('configuration', () => {
  it('reads YAML, applies environment overrides and freezes the result', () => {
    const dir = tempDir();
    const file = join(dir, 'switchboard.yaml');
    writeFileSync(file, 'http:\n  port: 9001\nprofiles:\n  enigma:\n    prefix: dialler\n');
    const config = loadConfig({ env: { SWITCHBOARD_CONFIG: file, SWITCHBOARD_HTTP_HOST: '127.0.0.2', SWITCHBOARD_DATA_DIR: '/var/lib/sb' } });
    expect(config.http).toMatchObject({ port: 9001, host: '127.0.0.2', bodyLimitBytes: 1_048_576 });
    expect(config.profiles.enigma.prefix).toBe('dialler');
    expect(config.dataDir).toBe('/var/lib/sb');
    expect(Object.isFrozen(config.http)).toBe(true);
  });

  it('names an unknown key or a wrong type', () => {
    expect(() => loadConfig({ overrides: { http: { prot: 1 } } })).toThrow(/http\.prot: unknown key/);
    expect(() => loadConfig({ overrides: { eventLog: { maxAgeMs: 'week' } } })).toThrow(/eventLog\.maxAgeMs: Expected integer/);
    expect(() => loadConfig({ env: { SWITCHBOARD_HTTP_PORT: 'eighty' } })).toThrow(/SWITCHBOARD_HTTP_PORT: expected an integer/);
  });
});

describe('switchboard start', () => {
  it('refuses to start on a config with an unknown key, naming it', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify({ http: { port: 0 }, spool: { maxBytez: 1 } }));
    const { code, output } = await runCli(['start', '--config', file], {});
    expect(code).toBe(1);
    expect(output).toMatch(/CONFIG_INVALID: .*spool\.maxBytez: unknown key/);
  });

  it('refuses a non-loopback bind without credentials', async () => {
    const redis = await startRedis({ appendOnly: false });
    const { code, output } = await runCli(['start'], { SWITCHBOARD_HTTP_HOST: '0.0.0.0', SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_DATA_DIR: tempDir() });
    await redis.close();
    expect(code).toBe(1);
    expect(output).toMatch(/refusing to bind 0\.0\.0\.0 without credentials/);
  });

  it('says in one line how to get Redis when none is reachable and redis-server is not installed', async () => {
    const dir = tempDir();
    const file = join(dir, 'config.yaml');
    writeFileSync(file, `redis:\n  localPort: ${await freePort()}\n`);
    const { code, output } = await runCli(['start', '--config', file], { PATH: '/nonexistent', SWITCHBOARD_DATA_DIR: dir });
    expect(code).toBe(1);
    expect(output.trim().split('\n')).toHaveLength(1);
    expect(output).toMatch(/redis-server is not installed: install it .*apt-get install -y redis-server.* or set SWITCHBOARD_REDIS_URL/);
  });

  it('launches its own append-only redis-server when none is configured or reachable, and stops it on SIGTERM', async () => {
    const dataDir = tempDir();
    const redisPort = await freePort();
    const file = join(dataDir, 'config.yaml');
    writeFileSync(file, `redis:\n  localPort: ${redisPort}\n`);
    const hub = await startChildHub({ SWITCHBOARD_CONFIG: file, SWITCHBOARD_DATA_DIR: dataDir });
    expect((await postEvents(hub.url, { type: 'campaign.status_changed', data: { campaign: 'c1', status: 'started' } })).status).toBe(202);
    const client = await connectClient(`redis://127.0.0.1:${redisPort}`);
    expect(await client.configGet('appendonly')).toEqual({ appendonly: 'yes' });
    expect(await client.configGet('dir')).toEqual({ dir: join(dataDir, 'redis') });
    await client.quit();
    expect(hub.output()).toMatch(/ \S*dist\/cli\/main\.js tail 'enigma:notifications:\*' --redis redis:\/\/127\.0\.0\.1:\d+/);
    expect(await hub.kill('SIGTERM')).toBe(0);
    expect(await isPortOpen(redisPort)).toBe(false);
    expect(existsSync(join(dataDir, 'redis', 'appendonlydir'))).toBe(true);
  });

  it('warns when the Redis it uses has no persistence', async () => {
    const redis = await startRedis({ appendOnly: false });
    const hub = await startChildHub({ SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_DATA_DIR: tempDir() });
    await hub.kill('SIGTERM');
    await redis.close();
    expect(hub.output()).toMatch(/redis has no append-only persistence/);
  });
});

describe('switchboard tail', () => {
  it('pattern-subscribes and prints each notification with its channel', async () => {
    const redis = await startRedis({ appendOnly: false });
    const { spawn } = await import('node:child_process');
    const tail = spawn(process.execPath, ['dist/cli/main.js', 'tail', 'enigma:notifications:agents:*', '--redis', redis.url], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    tail.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 10_000;
    while (!output.includes('subscribed to') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const client = await connectClient(redis.url);
    await client.publish('enigma:notifications:agents:1002', '{"type":"status","payload":{"status":"available"}}');
    await client.publish('enigma:notifications:campaigns:c1', '{"type":"status"}');
    while (!output.includes('agents:1002') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    tail.kill('SIGINT');
    await client.quit();
    await redis.close();
    expect(output).toMatch(/\d\d:\d\d:\d\d\.\d{3} enigma:notifications:agents:1002 \{"type":"status","payload":\{"status":"available"\}\}/);
    expect(output).not.toContain('campaigns:c1');
  });
});
