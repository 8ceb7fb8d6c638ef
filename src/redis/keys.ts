import { integratorKeys } from '@switchboard/client';
import type { Config } from '../config/schema.js';

/**
 * Every Redis key and channel name Switchboard uses comes from here.
 *
 * Keys that one script or transaction touches share a hash tag (`{…}`), so the same code runs on
 * Redis Cluster: the event log, its dedup window, the per-integrator streams/lists and the CTI
 * pools (whose scripts append to the log) live under `{log}`. The Enigma and Newfies names are
 * external contracts (docs/contracts/enigma.md, docs/contracts/newfies.md) and are built from the profile templates in config:
 * they cannot carry `{log}`, so on Cluster the Enigma CDR list is filled from the log by a relay
 * whose cursor shares the list's slot (src/integrators/list-relay.ts). Pub/Sub channels have no slot.
 */
export function createKeys(config: Pick<Config, 'keyPrefix' | 'profiles'>) {
  const log = `${config.keyPrefix}:{log}`;
  // The integrators' keys come from the client package, which integrators read them with.
  const integrator = integratorKeys(config.keyPrefix);
  const enigma = config.profiles.enigma;
  const expand = (template: string, values: Record<string, string>) =>
    template.replace(/\{(\w+)\}/g, (whole, name: string) => values[name] ?? whole);

  return {
    /** The event log: every accepted event, in acceptance order. */
    eventLog: eventLogKey(config.keyPrefix),
    /** Marks an event id as seen for the dedup window; the value is the acceptance token that wrote it. */
    dedup: (eventId: string) => `${log}:dedup:${eventId}`,
    /** The last batch of a log writer that landed whole: orders its pipelined appends. */
    writerFence: (writerId: string) => `${log}:fence:${writerId}`,

    /** Integrators (src/integrators): registry hash (name → spec JSON) read by the append script. */
    integrators: integrator.registry,
    /** The critical-event stream; one consumer group per integrator. */
    cdrStream: integrator.cdrStream,
    /** The own stream of an integrator limited to a tenant (filled by the append script). */
    integratorScopedStream: integrator.scopedStream,
    /** Per-integrator counters (hash fields `<name>:dead` and `<name>:lost`). */
    integratorCounters: integrator.counters,
    integratorDeadLetters: integrator.deadLetters,
    integratorList: integrator.list,

    enigmaAgentChannel: (agent: string) => expand(enigma.agentChannel, { prefix: enigma.prefix, agent }),
    enigmaCampaignChannel: (campaign: string) => expand(enigma.campaignChannel, { prefix: enigma.prefix, campaign }),
    enigmaCdrList: expand(enigma.cdrList, { prefix: enigma.prefix }),
    /**
     * Where the relay that fills `list` from the log on Redis Cluster keeps its cursor: the list's
     * name as hash tag, so the cursor is in the list's own slot (src/redis/lua/relayPush.lua).
     */
    relayCursor: (list: string) => `{${list}}:${config.keyPrefix}:relay`,

    /**
     * CTI pool `pool` (src/cti): the allocation-order list, and the prefixes of the per-DNIS busy
     * keys (`<busyPrefix><dnis>`) and of the entries (`<entryPrefix><dnis>:<ani>`). They share
     * `{log}`: each CTI script also appends its cti.* event to the log, in the same atomic step.
     */
    ctiPool: (pool: string) => {
      const base = `${log}:cti:${pool}`;
      return { order: `${base}:order`, busyPrefix: `${base}:busy:`, entryPrefix: `${base}:entry:` };
    },

    /**
     * Event subscriptions (src/webhooks). The registry (definitions, identities, the per-domain
     * index, the change feed) shares `{whsub}`; each subscription's lease and delivery state
     * (cursor, counters, failed deliveries) share `{wh:<slot>}` with the slot's epoch counter, so
     * every fenced write is one atomic script. The slot only spreads keys over the cluster.
     */
    webhookSubscription: (id: string) => `${config.keyPrefix}:{whsub}:sub:${id}`,
    webhookSubscriptionIds: `${config.keyPrefix}:{whsub}:ids`,
    webhookIdentities: `${config.keyPrefix}:{whsub}:identities`,
    webhookDomainIndex: (domain: string) => `${config.keyPrefix}:{whsub}:domain:${domain}`,
    webhookChanges: `${config.keyPrefix}:{whsub}:changes`,
    webhookSlot: (slot: number) => {
      const tag = `${config.keyPrefix}:{wh:${slot}}`;
      return {
        lease: (id: string) => `${tag}:lease:${id}`,
        epoch: `${tag}:epoch`,
        state: (id: string) => `${tag}:state:${id}`,
        failed: (id: string) => `${tag}:failed:${id}`,
      };
    },
    /** Live hub nodes: ZSET member nodeId, score = expiry (ms, Redis clock). */
    nodes: `${config.keyPrefix}:{ctl}:nodes`,
    /** When each live node has been present for its stable period (ms, Redis clock): eligible from then. */
    nodesEligibleAt: `${config.keyPrefix}:{ctl}:nodes:eligible-at`,
  };
}

export type Keys = ReturnType<typeof createKeys>;

/** The event log stream, also needed by tools that have no full config (`switchboard tail --log`). */
export function eventLogKey(keyPrefix: string): string {
  return `${keyPrefix}:{log}:events`;
}
