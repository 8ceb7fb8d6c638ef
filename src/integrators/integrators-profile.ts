import type { AcceptedEvent, CdrCreatedData } from '../events/catalogue.js';
import type { EnigmaProfile } from '../profiles/enigma.js';
import type { Output, OutputProfile } from '../profiles/output.js';
import type { Keys } from '../redis/keys.js';

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
