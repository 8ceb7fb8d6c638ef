import { TEST_TOKEN } from './hub.js';

export interface SseMessage {
  id: string | undefined;
  event: string;
  data: string;
}

export interface SseConnection {
  status: number;
  /** Every dispatched message (with data), in order. */
  messages: SseMessage[];
  /** Messages of log events (they carry an id). */
  events(): SseMessage[];
  /** The raw text received so far. */
  raw(): string;
  /** The last `id:` seen (as EventSource keeps it), including id-only heartbeats. */
  lastEventId(): string | undefined;
  ended: Promise<void>;
  waitFor(predicate: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): void;
}

/**
 * A Server-Sent Events client written from the spec (html.spec.whatwg.org, "event stream
 * interpretation"), over fetch so it can send Authorization, as an integrator's would.
 */
export async function openStream(
  baseUrl: string,
  options: { token?: string; query?: Record<string, string>; lastEventId?: string; path?: string } = {},
): Promise<SseConnection> {
  const url = new URL(options.path ?? '/v1/stream', baseUrl);
  for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
  const abort = new AbortController();
  const response = await fetch(url, {
    headers: {
      accept: 'text/event-stream',
      authorization: `Bearer ${options.token ?? TEST_TOKEN}`,
      ...(options.lastEventId === undefined ? {} : { 'last-event-id': options.lastEventId }),
    },
    signal: abort.signal,
  });
  const messages: SseMessage[] = [];
  let raw = '';
  let lastId: string | undefined = options.lastEventId;
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  const line = (text: string) => {
    if (text === '') {
      if (id !== undefined) lastId = id;
      if (data.length > 0) messages.push({ id, event: event || 'message', data: data.join('\n') });
      data = [];
      event = '';
      id = undefined;
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon < 0 ? text : text.slice(0, colon);
    const value = colon < 0 ? '' : text.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') data.push(value);
    else if (field === 'event') event = value;
    else if (field === 'id') id = value;
  };
  const ended = (async () => {
    if (!response.body) return;
    const decoder = new TextDecoder();
    try {
      for await (const chunk of response.body) {
        const text = decoder.decode(chunk as Uint8Array, { stream: true });
        raw += text;
        buffer += text;
        let newline: number;
        while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
          const length = buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? 2 : 1;
          line(buffer.slice(0, newline));
          buffer = buffer.slice(newline + length);
        }
      }
    } catch {
      // aborted
    }
  })();
  const connection: SseConnection = {
    status: response.status,
    messages,
    events: () => messages.filter((message) => message.id !== undefined),
    raw: () => raw,
    lastEventId: () => lastId,
    ended,
    async waitFor(predicate, timeoutMs = 20_000, what = 'stream condition') {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have ${messages.length} messages`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    },
    close: () => abort.abort(),
  };
  return connection;
}
