/**
 * What a subscription lease key holds: `<nodeId>:<epoch>` while a node delivers it (the fencing
 * token), or `:handover:<nodeId>` for a short while after a planned release, reserving it for the
 * planned next owner. Node ids contain no `:`, so the two forms cannot be confused.
 */
export type LeaseValue = { kind: 'held'; node: string; token: string } | { kind: 'handover'; to: string };

const HANDOVER = ':handover:';

export function handoverValue(to: string): string {
  return HANDOVER + to;
}

export function parseLeaseValue(value: string | null | undefined): LeaseValue | undefined {
  if (!value) return undefined;
  if (value.startsWith(HANDOVER)) return { kind: 'handover', to: value.slice(HANDOVER.length) };
  return { kind: 'held', node: value.slice(0, value.lastIndexOf(':')), token: value };
}

/** The node a lease places the subscription on: its holder, or the node it is handed over to. */
export function leaseNode(value: LeaseValue | undefined): string | undefined {
  return value?.kind === 'held' ? value.node : value?.to;
}
