import { TEST_TOKEN } from './hub.js';

/** A valid `cdr.created` event with a stable id. */
export function cdrEvent(n: number, extra: Record<string, unknown> = {}) {
  return {
    id: `cdr-${n}`,
    type: 'cdr.created',
    data: {
      call_id: `call-${n}`,
      number: `+4420700${String(n).padStart(5, '0')}`,
      direction: 'outbound',
      dialed_at: '2026-11-21T10:00:00.000Z',
      disposition: 'answered',
      agent: '1002',
      campaign: 'spring-sale',
      ...extra,
    },
  };
}

/** Calls the hub's JSON API with the test token. */
export async function api(baseUrl: string, method: string, path: string, body?: unknown, token = TEST_TOKEN) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  // Tests assert these bodies by shape, field by field.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, any> };
}
