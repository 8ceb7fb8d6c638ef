import { createHash, createHmac, randomBytes } from 'node:crypto';
import { ValidationError } from '../../errors.js';

/**
 * Standard Webhooks signing (spec v1.0.0): `webhook-signature: v1,<base64 HMAC-SHA256>` over
 * `<webhook-id>.<webhook-timestamp>.<body>`, keyed with the base64-decoded `whsec_` secret.
 */
const PREFIX = 'whsec_';
const MIN_KEY_BYTES = 24;
const MAX_KEY_BYTES = 64;

export function generateSecret(): string {
  return PREFIX + randomBytes(32).toString('base64');
}

/** Decodes a `whsec_` secret; throws a 400 naming the field when it is not 24–64 base64 bytes. */
export function parseSecret(secret: string, field = 'secret'): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : undefined;
  const key = encoded !== undefined && /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : undefined;
  if (!key || key.length < MIN_KEY_BYTES || key.length > MAX_KEY_BYTES) {
    throw new ValidationError(`${field} must be "whsec_" followed by ${MIN_KEY_BYTES}–${MAX_KEY_BYTES} base64-encoded random bytes`, {
      details: [{ path: `/${field}`, message: 'invalid secret' }],
    });
  }
  return key;
}

/** The header value: one `v1,…` signature per key, space-separated (key rotation). */
export function signatureHeader(keys: readonly Buffer[], msgId: string, timestampSeconds: number, body: string): string {
  const content = `${msgId}.${timestampSeconds}.${body}`;
  return keys.map((key) => `v1,${createHmac('sha256', key).update(content).digest('base64')}`).join(' ');
}

/**
 * A batch's `webhook-id`: equal on every retry of the same batch (receivers dedupe on it), new for
 * a replay (`generation` changes) so a deliberate re-delivery is not dropped as a duplicate.
 */
export function batchMessageId(subscriptionId: string, generation: string, firstSeq: string, lastSeq: string): string {
  const digest = createHash('sha256').update(`${subscriptionId}:${generation}:${firstSeq}:${lastSeq}`).digest('hex');
  return `msg_${digest.slice(0, 32)}`;
}
