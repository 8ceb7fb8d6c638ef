import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createConnection } from 'node:net';
import { DependencyMissingError } from '../errors.js';

export const INSTALL_REDIS_HINT =
  'redis-server is not installed: install it (e.g. `sudo apt-get install -y redis-server`) or set SWITCHBOARD_REDIS_URL to a Redis you run';

export interface LocalRedisOptions {
  port: number;
  dir: string;
  /** Append-only persistence; the hub always wants it, some tests start a volatile Redis. */
  appendOnly?: boolean;
  binary?: string;
  /** More redis-server arguments (replication, cluster mode). */
  extraArgs?: readonly string[];
  /**
   * Run it in a process group of its own, so a Ctrl-C in the terminal (SIGINT to the foreground
   * group) reaches only the hub, which drains into Redis and then stops it.
   */
  ownProcessGroup?: boolean;
}

const CLOSE_SIGNAL_REPEAT_MS = 500;

/** A redis-server child process; `close()` shuts it down gracefully (SIGTERM flushes the AOF). */
export class LocalRedisServer {
  readonly url: string;
  readonly port: number;
  readonly dir: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;

  private constructor(child: ChildProcess, port: number, dir: string) {
    this.child = child;
    this.port = port;
    this.dir = dir;
    this.url = `redis://127.0.0.1:${port}`;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  static async start(options: LocalRedisOptions): Promise<LocalRedisServer> {
    const args = [
      '--port', String(options.port),
      '--bind', '127.0.0.1',
      '--dir', options.dir,
      '--save', '',
      '--appendonly', options.appendOnly === false ? 'no' : 'yes',
      '--appendfsync', 'everysec',
      '--maxmemory-policy', 'noeviction',
      '--daemonize', 'no',
      '--logfile', '',
      '--loglevel', 'warning',
      ...(options.extraArgs ?? []),
    ];
    return LocalRedisServer.launch(options.port, options.dir, args, options.binary, options.ownProcessGroup);
  }

  /** Runs `redis-server` with exactly `args` (e.g. a Sentinel: a config file and `--sentinel`). */
  static async launch(port: number, dir: string, args: readonly string[], binary = 'redis-server', ownProcessGroup = false): Promise<LocalRedisServer> {
    mkdirSync(dir, { recursive: true });
    const child = spawn(binary, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: ownProcessGroup });
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (error: NodeJS.ErrnoException) =>
        reject(error.code === 'ENOENT' ? new DependencyMissingError(INSTALL_REDIS_HINT, { cause: error }) : error),
      ),
    );
    const server = new LocalRedisServer(child, port, dir);
    await Promise.race([waitForPort(port, 10_000), spawnError]);
    return server;
  }

  /** False once the process has exited. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Hard kill, for failure tests: loses whatever the AOF had not written. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }

  /**
   * Graceful stop. redis-server refuses a SIGTERM while it writes its first AOF (it logs "Writing
   * initial AOF, can't exit." and keeps running): a replica does so right after its first full
   * sync. So the signal is repeated until the process is gone, never escalated to SIGKILL, which
   * would lose what the AOF has not written yet.
   */
  async close(): Promise<void> {
    const terminate = () => {
      if (this.running) this.child.kill('SIGTERM');
    };
    terminate();
    const repeat = setInterval(terminate, CLOSE_SIGNAL_REPEAT_MS);
    try {
      await this.exited;
    } finally {
      clearInterval(repeat);
    }
  }
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await isPortOpen(port))) {
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

export function isPortOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
