import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { LocalRedisServer } from '../../src/redis/local-server.js';

/** A port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export function tempDir(prefix = 'switchboard-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export interface TestRedis {
  url: string;
  port: number;
  dir: string;
  server: LocalRedisServer;
  /** Stops it gracefully (or hard with `{ kill: true }`) and starts it again on the same port and files. */
  restart(options?: { kill?: boolean; downMs?: number }): Promise<void>;
  stop(options?: { kill?: boolean }): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

/** A real redis-server on a free port, append-only unless told otherwise, files in a temp dir. */
export async function startRedis(options: { appendOnly?: boolean } = {}): Promise<TestRedis> {
  const port = await freePort();
  const dir = tempDir('switchboard-redis-');
  const appendOnly = options.appendOnly ?? true;
  const handle: TestRedis = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    server: await LocalRedisServer.start({ port, dir, appendOnly }),
    async stop({ kill = false } = {}) {
      await (kill ? handle.server.kill() : handle.server.close());
    },
    async start() {
      handle.server = await LocalRedisServer.start({ port, dir, appendOnly });
    },
    async restart({ kill = false, downMs = 0 } = {}) {
      await handle.stop({ kill });
      if (downMs > 0) await new Promise((resolve) => setTimeout(resolve, downMs));
      await handle.start();
    },
    close: () => handle.server.close(),
  };
  return handle;
}

/** A plain node-redis client, as an integrator would use it. */
export async function connectClient(url: string) {
  const client = createClient({ url, RESP: 2 });
  client.on('error', () => {});
  await client.connect();
  return client;
}
