import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  headers: IncomingHttpHeaders;
  body: string;
  at: number;
}

export interface Reply {
  status: number;
  headers?: Record<string, string>;
}

/** A real HTTP receiver on 127.0.0.1 that records every POST; `reply` decides each answer. */
export interface Receiver {
  url: string;
  port: number;
  received: Received[];
  reply: (request: Received, index: number) => Reply;
  /** Model objects of every 2xx-answered post, in arrival order. */
  delivered(): Record<string, unknown>[];
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Closes the listener (connections refused) until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startReceiver(path = '/hook'): Promise<Receiver> {
  let server: Server | undefined;
  const answered: { body: string; ok: boolean }[] = [];
  const receiver: Receiver = {
    url: '',
    port: 0,
    received: [],
    reply: () => ({ status: 200 }),
    delivered: () => answered.filter((post) => post.ok).flatMap((post) => JSON.parse(post.body) as Record<string, unknown>[]),
    async waitFor(predicate, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out; received ${receiver.received.length} posts`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    async stop() {
      const current = server;
      server = undefined;
      current?.closeAllConnections();
      await new Promise((resolve) => current?.close(resolve) ?? resolve(undefined));
    },
    async start() {
      server = createServer((request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          const entry = { headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), at: Date.now() };
          const index = receiver.received.push(entry) - 1;
          const reply = receiver.reply(entry, index);
          answered.push({ body: entry.body, ok: reply.status >= 200 && reply.status < 300 });
          response.writeHead(reply.status, reply.headers ?? {}).end('ok');
        });
      });
      await new Promise<void>((resolve) => server?.listen(receiver.port, '127.0.0.1', resolve));
      receiver.port = (server.address() as AddressInfo).port;
      receiver.url = `http://127.0.0.1:${receiver.port}${path}`;
    },
    close: () => receiver.stop(),
  };
  await receiver.start();
  return receiver;
}
