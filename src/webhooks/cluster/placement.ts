/**
 * Where each subscription runs (docs/webhooks.md, "Redundancy"). A pure function of what every
 * node reads from Redis (live nodes with their stable-since times, subscriptions with their
 * preferred server and current owner), so every node computes the same plan and acts only on its
 * own part of it: it takes what the plan gives it and hands over what the plan moves away.
 *
 * 1. A node is eligible to take subscriptions once it has been live for its `stableAfterMs`. While
 *    no node is, every live node is (a cold start must not wait a minute to deliver anything).
 * 2. A subscription whose `preferred-server` is eligible runs there (pinned).
 * 3. Every other subscription stays with its current owner while that node is live.
 * 4. The rest go, one at a time, to the eligible node with the fewest subscriptions; ties go to
 *    the node with the highest rendezvous score for that subscription.
 * 5. While the busiest node holding an unpinned subscription has two or more than the least busy
 *    eligible node, one of them moves there: the fewest moves that balance the counts.
 */

export interface PlacementNode {
  id: string;
  /** When it has been live without a gap for its stable period (ms, Redis clock). */
  eligibleAt: number;
}

export interface PlacementSubscription {
  id: string;
  preferredServer?: string | undefined;
  /** The node holding its lease, or the node it is being handed over to. */
  owner?: string | undefined;
}

export interface PlacementInput {
  /** Now, on the Redis clock (ms). */
  now: number;
  /** Live nodes. */
  nodes: readonly PlacementNode[];
  subscriptions: readonly PlacementSubscription[];
}

export interface Placement {
  /** Nodes that may take subscriptions. */
  readonly eligible: readonly string[];
  /** The planned node per subscription id (absent: no live node). */
  readonly target: ReadonlyMap<string, string>;
  /** Planned subscriptions per live node. */
  readonly counts: ReadonlyMap<string, number>;
  /** True for a subscription running on its preferred server by rule 2. */
  pinned(id: string): boolean;
  /**
   * Where the subscription would go if `current` went away now. `current` defaults to the owner
   * this placement was computed from (or its planned node); a caller that has read the lease since
   * passes that owner, so a move made after this placement never names the new owner as its own next.
   */
  nextServer(id: string, current?: string): string | undefined;
}

/**
 * Rendezvous (highest random weight) score of a subscription on a node: FNV-1a over both ids,
 * then a murmur3 finaliser so that similar ids spread evenly. Equal on every node.
 */
export function rendezvousScore(subscriptionId: string, nodeId: string): number {
  let hash = 0x811c9dc5;
  const text = `${subscriptionId}\u0000${nodeId}`;
  for (let index = 0; index < text.length; index += 1) {
    hash ^= text.charCodeAt(index);
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/** The node among `candidates` with the fewest planned subscriptions; ties by rendezvous score. */
function leastBusy(subscriptionId: string, candidates: readonly string[], counts: Map<string, number>): string | undefined {
  let best: string | undefined;
  let bestCount = Infinity;
  let bestScore = -1;
  for (const node of candidates) {
    const count = counts.get(node) ?? 0;
    if (count > bestCount) continue;
    const score = rendezvousScore(subscriptionId, node);
    if (count < bestCount || score > bestScore) {
      best = node;
      bestCount = count;
      bestScore = score;
    }
  }
  return best;
}

export function place(input: PlacementInput): Placement {
  const live = [...input.nodes].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const liveIds = new Set(live.map((node) => node.id));
  const stable = live.filter((node) => node.eligibleAt <= input.now).map((node) => node.id);
  const eligible = stable.length > 0 ? stable : live.map((node) => node.id);
  const eligibleIds = new Set(eligible);
  const subscriptions = [...input.subscriptions].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));

  const counts = new Map<string, number>(live.map((node) => [node.id, 0]));
  const target = new Map<string, string>();
  const pinnedIds = new Set<string>();
  /** Per node, the unpinned subscriptions it keeps, least attached first (the first to move). */
  const movable = new Map<string, string[]>();
  const assign = (id: string, node: string) => {
    target.set(id, node);
    counts.set(node, (counts.get(node) ?? 0) + 1);
  };

  const unplaced: string[] = [];
  for (const subscription of subscriptions) {
    const { id, preferredServer, owner } = subscription;
    if (preferredServer !== undefined && eligibleIds.has(preferredServer)) {
      assign(id, preferredServer);
      pinnedIds.add(id);
    } else if (owner !== undefined && liveIds.has(owner)) {
      assign(id, owner);
      let list = movable.get(owner);
      if (!list) movable.set(owner, (list = []));
      list.push(id);
    } else {
      unplaced.push(id);
    }
  }
  for (const [node, list] of movable) {
    const scores = new Map(list.map((id) => [id, rendezvousScore(id, node)]));
    list.sort((a, b) => (scores.get(a) ?? 0) - (scores.get(b) ?? 0));
  }
  for (const id of unplaced) {
    const node = leastBusy(id, eligible, counts);
    if (node !== undefined) assign(id, node);
  }

  // Balance with the fewest moves: each move takes one unpinned subscription from the busiest
  // node that has one to the least busy eligible node, while they differ by two or more.
  for (;;) {
    let donor: string | undefined;
    for (const [node, list] of movable) {
      if (list.length === 0) continue;
      if (donor === undefined || (counts.get(node) ?? 0) > (counts.get(donor) ?? 0) || ((counts.get(node) ?? 0) === (counts.get(donor) ?? 0) && node < donor)) donor = node;
    }
    if (donor === undefined) break;
    const minCount = Math.min(...eligible.map((node) => counts.get(node) ?? 0));
    if ((counts.get(donor) ?? 0) - minCount <= 1) break;
    const id = movable.get(donor)?.shift() as string;
    const receivers = eligible.filter((node) => node !== donor && (counts.get(node) ?? 0) === minCount);
    const receiver = leastBusy(id, receivers, counts) as string;
    counts.set(donor, (counts.get(donor) ?? 0) - 1);
    assign(id, receiver);
  }

  const withoutNode = new Map<string, Placement>();
  const owners = new Map(input.subscriptions.map((subscription) => [subscription.id, subscription.owner]));
  return {
    eligible,
    target,
    counts,
    pinned: (id) => pinnedIds.has(id),
    nextServer(id, current = owners.get(id) ?? target.get(id)) {
      if (current === undefined) return target.get(id);
      let plan = withoutNode.get(current);
      if (!plan) {
        plan = place({
          ...input,
          nodes: input.nodes.filter((node) => node.id !== current),
          subscriptions: input.subscriptions.map((subscription) => (subscription.owner === current ? { ...subscription, owner: undefined } : subscription)),
        });
        withoutNode.set(current, plan);
      }
      return plan.target.get(id);
    },
  };
}
