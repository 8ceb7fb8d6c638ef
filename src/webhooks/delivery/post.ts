import type { Batch } from './batcher.js';
import { modelObject } from '../models.js';
import { parseSecret, signatureHeader } from './signing.js';
import type { SubscriptionDef } from '../store.js';

/** The secrets that sign a post: the current one, and the rotated-out one during its grace period. */
export function signingKeys(def: SubscriptionDef, now = Date.now()): Buffer[] {
  const keys = [parseSecret(def.secret)];
  if (def.previousSecret && def.previousSecretUntil && Date.parse(def.previousSecretUntil) > now) keys.push(parseSecret(def.previousSecret));
  return keys;
}

/**
 * The POST body: a JSON array of model objects, each the logged envelope plus `model`, `seq` and
 * the model's own members (`remove` on a call's last post).
 */
export function postBody(def: SubscriptionDef, batch: Batch): string {
  return `[${batch.entries.map((entry) => modelObject(def.model, entry.position, entry.json, entry.type)).join(',')}]`;
}

/** Headers of one attempt: NetSapiens' correlation id and the Standard Webhooks trio. */
export function postHeaders(def: SubscriptionDef, batch: Batch, body: string, keys: readonly Buffer[], now = Date.now()): Record<string, string> {
  const timestamp = Math.floor(now / 1000);
  return {
    'content-type': 'application/json',
    'user-agent': 'Switchboard-Webhooks/0.1',
    'x-correlation-id': def.id,
    'webhook-id': batch.webhookId,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signatureHeader(keys, batch.webhookId, timestamp, body),
  };
}
