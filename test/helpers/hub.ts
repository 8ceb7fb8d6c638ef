import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../../src/config/load.js';
import { Hub } from '../../src/hub.js';
import { waitForPort } from '../../src/redis/local-server.js';
import { freePort, tempDir } from './redis.js';

export const TEST_TOKEN = 'test-token-0123456789abcdef';

/** An in-process hub on a free port with its own data dir; `overrides` are config keys. */
export async function startHub(redisUrl: string, overrides: Record<string, unknown> = {}): Promise<Hub> {
  const config = parseConfig(
    mergeDeep(
      {
        dataDir: tempDir('switchboard-data-'),
        logLevel: 'silent',
        keyPrefix: 'sbtest',
        http: { port: 0 },
        redis: { url: redisUrl, commandTimeoutMs: 300 },
        auth: { apiToken: TEST_TOKEN },
        spool: { drainRetryMs: 50 },
      },
      overrides,
    ),
  );
  return Hub.start(Object.freeze(config));
}

function mergeDeep(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const existing = out[key];
    out[key] =
      isObject(existing) && isObject(value) ? mergeDeep(existing, value) : value;
  }
  return out;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export async function postEvents(baseUrl: string, body: unknown, token = TEST_TOKEN, headers: Record<string, string> = {}) {
  const response = await fetch(`${baseUrl}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown>, headers: response.headers };
}

const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ChildHub {
  url: string;
  process: ChildProcess;
  output: () => string;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

/** The built CLI (`switchboard start`) in a child process, for kill -9 and SIGTERM tests. */
export async function startChildHub(env: Record<string, string>, options: { startTimeoutMs?: number } = {}): Promise<ChildHub> {
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [CLI, 'start'], {
    env: {
      PATH: process.env.PATH ?? '',
      SWITCHBOARD_HTTP_PORT: String(port),
      SWITCHBOARD_API_TOKEN: TEST_TOKEN,
      SWITCHBOARD_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  await Promise.race([
    waitForPort(port, options.startTimeoutMs ?? 45_000),
    exited.then(() => {
      throw new Error(`hub exited at start:\n${output}`);
    }),
  ]);
  return {
    url: `http://127.0.0.1:${port}`,
    process: child,
    output: () => output,
    async kill(signal = 'SIGKILL') {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Runs the built CLI to completion (for commands expected to exit), with a clean environment. */
export async function runCli(args: string[], env: Record<string, string>, timeoutMs = 45_000): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, output };
}
