import type { AcceptedEvent } from '../events/catalogue.js';

/**
 * What one accepted event turns into on a delivery channel. Outputs are written by the log's
 * append script in the same atomic step as the log entry (see src/redis/lua/appendEvents.lua).
 */
export type Output =
  | { op: 'publish'; channel: string; message: string }
  | { op: 'lpush'; key: string; message: string }
  | { op: 'xadd'; key: string; message: string }
  /**
   * Integrator fan-out decided inside the script from the `registry` hash
   * (src/integrators/integrators-profile.ts); `tenant` (the event's scope) picks the scoped integrators.
   */
  | { op: 'fanout'; registry: string; stream: string; message: string; tenant: { reseller?: string | undefined; domain?: string | undefined } };

/** A wire format of a system we are compatible with: maps events to outputs, deterministically. */
export interface OutputProfile {
  readonly name: string;
  outputsFor(event: AcceptedEvent): Output[];
}
