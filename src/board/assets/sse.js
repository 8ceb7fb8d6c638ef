// Server-Sent Events over fetch: EventSource cannot send an Authorization header, fetch can.
// Parses the stream as the HTML spec's "event stream interpretation" does.

/**
 * Reads GET /v1/stream (with `token`, when the hub requires one) until it ends or `signal` aborts. `onMessage({id, event, data})` runs for
 * each message with data; `onPosition(id)` for every id: line (also the data-less ones the hub
 * sends when filtered entries moved the position on). Resolves when the stream ends; rejects with
 * an Error carrying `status` when the hub refuses it.
 */
export async function readStream(url, token, { onMessage, onPosition, signal }) {
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    cache: 'no-store',
    signal,
  });
  if (!response.ok || !response.body) {
    const error = new Error(`stream answered ${response.status}`);
    error.status = response.status;
    throw error;
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  let data = [];
  let event = '';
  let id;
  const line = (text) => {
    if (text === '') {
      if (id !== undefined) onPosition(id);
      if (data.length > 0) onMessage({ id, event: event || 'message', data: data.join('\n') });
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
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let index;
    while ((index = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const length = buffer[index] === '\r' && buffer[index + 1] === '\n' ? 2 : 1;
      line(buffer.slice(0, index));
      buffer = buffer.slice(index + length);
    }
  }
}
