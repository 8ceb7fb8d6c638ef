import { HubError, HubUnreachableError } from '@switchboard/client';

export interface StreamMessage {
  id: string | undefined;
  event: string;
  data: string;
}

/**
 * Reads the hub's GET /v1/stream (Server-Sent Events) until it ends or `signal` aborts, calling
 * `onMessage` per message with data and `onPosition` per `id:` line. Throws HubError when the hub
 * refuses the stream, HubUnreachableError when nothing answers.
 */
export async function readEventStream(
  url: URL,
  token: string | undefined,
  handlers: { onMessage(message: StreamMessage): Promise<void> | void; onPosition(id: string): void; signal: AbortSignal; lastEventId?: string | undefined },
): Promise<void> {
  let response: Response;
  try {
    response = await fetch(url, {
      headers: {
        accept: 'text/event-stream',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(handlers.lastEventId ? { 'last-event-id': handlers.lastEventId } : {}),
      },
      signal: handlers.signal,
    });
  } catch (error) {
    if (handlers.signal.aborted) return;
    throw new HubUnreachableError(url.origin, { cause: error });
  }
  if (!response.ok || !response.body) {
    const body = (await response.json().catch(() => ({}))) as { error?: { code?: string; message?: string; details?: [] } };
    throw new HubError(response.status, body.error?.code ?? 'HTTP_ERROR', body.error?.message ?? `HTTP ${response.status}`, body.error?.details ?? []);
  }
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  let event = '';
  let id: string | undefined;
  try {
    for await (const chunk of response.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        const length = buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? 2 : 1;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(newline + length);
        if (line === '') {
          if (id !== undefined) handlers.onPosition(id);
          if (data.length > 0) await handlers.onMessage({ id, event: event || 'message', data: data.join('\n') });
          data = [];
          event = '';
          id = undefined;
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
        else if (field === 'id') id = value;
      }
    }
  } catch (error) {
    if (!handlers.signal.aborted) throw new HubUnreachableError(url.origin, { cause: error });
  }
}
