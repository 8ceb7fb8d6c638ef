import { EVENT_TYPES, type AcceptedEvent, type CdrCreatedData, type EventType } from '../events/catalogue.js';
import type { EnigmaProfile } from '../profiles/enigma.js';
import type { Output, OutputProfile } from '../profiles/output.js';
import type { Keys } from '../redis/keys.js';

/**
 * The event types that reach integrators: every type the hub appends through its appender, since
 * the profile below fans out each of those. cti.* never pass it: the CTI scripts write them to the
 * log in the same atomic step as the store (src/cti/events.ts), so no integrator could get one.
 * Registration takes only these (src/integrators/registry.ts).
 */
export const INTEGRATOR_EVENT_TYPES: readonly EventType[] = EVENT_TYPES.filter((type) => !type.startsWith('cti.'));

/**
 * Fans every event out to the integrators that take its type. Who takes what is decided inside
 * the append script from the registry hash (op I in src/redis/lua/appendEvents.lua), not from a
 * cache here: a registration made on any hub node applies to the very next append everywhere.
 * Legacy lists carry the Enigma CDR message, the same bytes as `enigma:notifications:campaigns`.
 */
export class IntegratorsProfile implements OutputProfile {
  readonly name = 'integrators';

  constructor(
    private readonly keys: Keys,
    private readonly enigma: EnigmaProfile,
  ) {}

  outputsFor(event: AcceptedEvent): Output[] {
    const message = event.type === 'cdr.created' ? this.enigma.cdrMessage(event.data as CdrCreatedData) : '';
    const tenant = { reseller: event.scope?.reseller, domain: event.scope?.domain };
    return [{ op: 'fanout', registry: this.keys.integrators, stream: this.keys.cdrStream, message, tenant }];
  }
}
