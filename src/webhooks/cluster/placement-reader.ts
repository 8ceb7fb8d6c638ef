import type { NodeRegistry } from './node-registry.js';
import { place, type Placement } from './placement.js';
import type { SubscriptionStore } from '../store.js';

export interface PlacementReaderOptions {
  store: SubscriptionStore;
  registry: NodeRegistry;
  /** A placement read this recently is reused (a list of subscriptions reads it once). */
  maxAgeMs: number;
}

/**
 * The placement as any node would compute it now, read without taking part (a hub that does not
 * deliver, or one that has not completed its first ownership tick): for `next-server`.
 */
export class PlacementReader {
  private cached: { at: number; placement: Promise<Placement> } | undefined;

  constructor(private readonly options: PlacementReaderOptions) {}

  read(): Promise<Placement> {
    const now = performance.now();
    if (this.cached && now - this.cached.at < this.options.maxAgeMs) return this.cached.placement;
    const placement = this.load();
    this.cached = { at: now, placement };
    placement.catch(() => {
      if (this.cached?.placement === placement) this.cached = undefined;
    });
    return placement;
  }

  private async load(): Promise<Placement> {
    const { store, registry } = this.options;
    const [snapshot, defs] = await Promise.all([registry.read(), store.list()]);
    const owners = await store.placedOn(defs);
    return place({
      now: snapshot.now,
      nodes: snapshot.nodes,
      subscriptions: defs.map((def, index) => ({ id: def.id, preferredServer: def.preferredServer, owner: owners[index] })),
    });
  }
}
