import { createServer, type Socket } from 'node:net';

/**
 * The TCP side the fake PBX peers share: a listener on 127.0.0.1, every connection counted and
 * tracked, the ones past the protocol's login kept apart ("ready"), and a network failure on
 * demand. Each fake adds its protocol in `onConnection`.
 */
export interface LoopbackPeer {
  port: number;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Marks a connection as past login: it gets `broadcast`, and counts for `waitForReady`. */
  markReady(socket: Socket): void;
  /** Writes to every ready connection. */
  broadcast(bytes: string | Buffer): void;
  /** Writes to every connection, ready or not. */
  raw(bytes: string | Buffer): void;
  /** Drops every connection without a word (a network failure). */
  drop(): void;
  /** Resolves once `count` connections in all have become ready; fails naming `what` after 20 s. */
  waitForReady(count: number, what: string): Promise<void>;
  close(): Promise<void>;
}

export async function startLoopbackPeer(onConnection: (socket: Socket) => void): Promise<LoopbackPeer> {
  const sockets = new Set<Socket>();
  const ready = new Set<Socket>();
  let connections = 0;
  let readied = 0;
  const server = createServer((socket) => {
    connections += 1;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      ready.delete(socket);
    });
    socket.on('error', () => {});
    onConnection(socket);
  });
  const peer: LoopbackPeer = {
    port: 0,
    get connections() {
      return connections;
    },
    markReady(socket) {
      ready.add(socket);
      readied += 1;
    },
    broadcast(bytes) {
      for (const socket of ready) socket.write(bytes);
    },
    raw(bytes) {
      for (const socket of sockets) socket.write(bytes);
    },
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    async waitForReady(count, what) {
      const deadline = Date.now() + 20_000;
      while (readied < count) {
        if (Date.now() > deadline) throw new Error(`${what} after ${connections} connections`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    close: () =>
      new Promise((resolve) => {
        peer.drop();
        server.close(() => resolve());
      }),
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  peer.port = (server.address() as { port: number }).port;
  return peer;
}
