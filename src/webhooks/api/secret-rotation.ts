import type { SubscriptionDef } from '../store.js';

type SecretFields = Pick<SubscriptionDef, 'secret' | 'previousSecret' | 'previousSecretUntil'>;

/**
 * A PUT with `secret` (already checked): the new secret signs from now on, and the one it
 * replaces keeps signing beside it for `graceMs`, so a receiver that has not switched yet keeps
 * verifying. The same secret again changes nothing.
 */
export function rotateSecret(previous: SubscriptionDef, secret: string, graceMs: number, now = Date.now()): Partial<SecretFields> {
  if (secret === previous.secret) return {};
  return { secret, previousSecret: previous.secret, previousSecretUntil: new Date(now + graceMs).toISOString() };
}
