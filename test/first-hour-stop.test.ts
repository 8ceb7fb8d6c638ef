import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isPortOpen, waitForPort } from '../src/redis/local-server.js';
import { TEST_TOKEN } from './helpers/hub.js';
import { freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Whether a process with this id still exists. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('stopping `npm start` with SIGTERM, as a process manager or `timeout` does', () => {
  let redis: TestRedis;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
  });
  afterAll(async () => {
    await redis?.close();
  });

  it('package.json runs the built hub in place of the shell, so the signal reaches it', () => {
    const { scripts } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { scripts: Record<string, string> };
    expect(scripts.start).toBe('npm run build && exec npm run --silent start:built');
    expect(scripts['start:built']).toBe('exec ./dist/cli/main.js start');
  });

  // `npm start` is `npm run build && exec npm run start:built`; the build is left out here so that
  // the test does not rewrite dist/ under the other test files running at the same time.
  it('SIGTERM to the npm process makes the hub log "stop requested", drain and exit, leaving nothing on the port', async () => {
    const port = await freePort();
    const child = spawn('npm', ['run', '--silent', 'start:built'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? tempDir('switchboard-home-'),
        SWITCHBOARD_HTTP_PORT: String(port),
        SWITCHBOARD_REDIS_URL: redis.url,
        SWITCHBOARD_DATA_DIR: tempDir('switchboard-data-'),
        SWITCHBOARD_API_TOKEN: TEST_TOKEN,
        SWITCHBOARD_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = once(child, 'exit');
    let hubPid: number | undefined;
    try {
      await waitForPort(port, 45_000);
      await waitFor(() => output.includes('"msg":"switchboard is running"'), 20_000, 'the running line');
      const running = output.split('\n').find((line) => line.includes('"msg":"switchboard is running"')) ?? '';
      const pid = (JSON.parse(running) as { pid: number }).pid;
      hubPid = pid;
      expect(pid).not.toBe(child.pid);

      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      await waitFor(() => !alive(pid), 20_000, 'the hub process to exit');
      expect(await isPortOpen(port)).toBe(false);
      expect(code).toBe(0);
      const messages = output
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => (JSON.parse(line) as { msg: string }).msg);
      const tail = messages.slice(messages.indexOf('stop requested'));
      expect(tail).toEqual(['stop requested', 'shutting down', 'stopped']);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (hubPid !== undefined && alive(hubPid)) process.kill(hubPid, 'SIGKILL');
    }
  }, 90_000);
});
