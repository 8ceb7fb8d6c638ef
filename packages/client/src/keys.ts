/**
 * The Redis keys an integrator reads, derived from the hub's `keyPrefix` exactly as the hub names
 * them (the hub's own key module builds its integrator keys from this function, so the two cannot
 * drift). They share the `{log}` hash tag with the event log, so they live in one Cluster slot.
 */
export function integratorKeys(keyPrefix = 'switchboard') {
  const log = `${keyPrefix}:{log}`;
  return {
    /** Registry hash: integrator name → its registration (JSON). */
    registry: `${log}:integrators`,
    /** The critical-event stream of integrators not limited to a tenant; one consumer group each. */
    cdrStream: `${log}:cdr`,
    /** The own stream of an integrator limited to a tenant: only its tenant's events, one group. */
    scopedStream: (integrator: string) => `${log}:cdr:${integrator}`,
    /** Per-integrator counters (hash fields `<name>:dead` and `<name>:lost`). */
    counters: `${log}:integrators:counters`,
    deadLetters: (integrator: string) => `${log}:dlq:${integrator}`,
    list: (integrator: string) => `${log}:list:${integrator}`,
  };
}

export type IntegratorKeys = ReturnType<typeof integratorKeys>;
