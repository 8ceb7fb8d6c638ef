import { describeError } from './describe-error.js';
import { Backoff } from './backoff.js';

/** What connecting needs of a client (src/redis/client.ts's `RedisClient` is one). */
export interface Connectable {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  /** True once the owner closed it: no more attempts. */
  readonly closed: boolean;
  connect(): Promise<void>;
  on(event: 'ready' | 'error', listener: (error?: Error) => void): unknown;
  off(event: 'ready' | 'error', listener: (error?: Error) => void): unknown;
}

/** A first connect that fails is tried again after this backoff (then the client reconnects itself). */
const FIRST_CONNECT_BACKOFF = { initialMs: 100, maxMs: 1000 };

/**
 * Connects without throwing when the server is down: the client keeps retrying in the
 * background (node-redis retries a lost connection itself; a first connect that fails, which
 * its Cluster and Sentinel clients do not retry, is retried here). Errors go to `onError`.
 * With `untilFirstConnect`, the one way the hub connects (src/hub.ts, `openRedis`).
 */
export function connectInBackground(client: Connectable, onError: (error: Error) => void = () => {}): void {
  client.on('error', (error) => onError(error ?? new Error('connection error')));
  const backoff = new Backoff(FIRST_CONNECT_BACKOFF);
  const attempt = () => {
    client.connect().catch((error: unknown) => {
      onError(error instanceof Error ? error : new Error(describeError(error)));
      // An open client reconnects on its own; one whose first connect failed needs a new connect().
      if (client.isOpen || client.closed) return;
      setTimeout(() => {
        if (!client.closed) attempt();
      }, backoff.next()).unref();
    });
  };
  attempt();
}

/**
 * Resolves true when the client is ready, false when a connection attempt fails first or after
 * `timeoutMs`: a server that refuses connections does not hold a start (the caller goes on
 * degraded, and the client keeps connecting in the background).
 */
export function untilFirstConnect(client: Connectable, timeoutMs: number): Promise<boolean> {
  if (client.isReady) return Promise.resolve(true);
  return new Promise<boolean>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    timer.unref();
    client.on('ready', done);
    client.on('error', done);
    function done() {
      clearTimeout(timer);
      client.off('ready', done);
      client.off('error', done);
      resolve(client.isReady);
    }
  });
}
