import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { place, rendezvousScore, type PlacementInput, type PlacementNode, type PlacementSubscription } from '../../src/webhooks/cluster/placement.js';

/*
 * The placement rules (src/webhooks/cluster/placement.ts, docs/webhooks.md "Redundancy") as properties of
 * the pure function; test/webhooks-placement.test.ts holds the hubs to the same plan on redis-server.
 */

const NOW = 1_000_000;
const NODE_IDS = ['n1', 'n2', 'n3', 'n4', 'n5'];

const inputArbitrary: fc.Arbitrary<PlacementInput> = fc
  .record({
    nodes: fc.uniqueArray(
      fc.record({ id: fc.constantFrom(...NODE_IDS), stable: fc.boolean() }),
      { selector: (node) => node.id, maxLength: NODE_IDS.length },
    ),
    subscriptions: fc.uniqueArray(
      fc.record({
        id: fc.string({ minLength: 1, maxLength: 6 }),
        // Named nodes may be dead (absent from `nodes`).
        preferredServer: fc.option(fc.constantFrom(...NODE_IDS), { nil: undefined }),
        owner: fc.option(fc.constantFrom(...NODE_IDS), { nil: undefined }),
      }),
      { selector: (subscription) => subscription.id, maxLength: 30 },
    ),
  })
  .map(({ nodes, subscriptions }) => ({
    now: NOW,
    nodes: nodes.map((node): PlacementNode => ({ id: node.id, eligibleAt: node.stable ? NOW - 1 : NOW + 1 })),
    subscriptions: subscriptions.map((subscription): PlacementSubscription => subscription),
  }));

const entries = (map: ReadonlyMap<string, string>) => [...map].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

describe('place (properties)', () => {
  it('is the same plan on every node: the order the input is read in does not matter', () => {
    fc.assert(
      fc.property(inputArbitrary, fc.nat(), (input, seed) => {
        const shuffle = <T>(items: readonly T[]) => [...items].sort((a, b) => rendezvousScore(JSON.stringify(a), String(seed)) - rendezvousScore(JSON.stringify(b), String(seed)));
        const shuffled = { ...input, nodes: shuffle(input.nodes), subscriptions: shuffle(input.subscriptions) };
        expect(entries(place(shuffled).target)).toEqual(entries(place(input).target));
      }),
    );
  });

  it('places every subscription on a live node (none when no node is live), and the counts add up', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const plan = place(input);
        const live = new Set(input.nodes.map((node) => node.id));
        expect(plan.target.size).toBe(live.size === 0 ? 0 : input.subscriptions.length);
        for (const node of plan.target.values()) expect(live.has(node)).toBe(true);
        const counted = new Map<string, number>();
        for (const node of plan.target.values()) counted.set(node, (counted.get(node) ?? 0) + 1);
        for (const node of live) expect(plan.counts.get(node)).toBe(counted.get(node) ?? 0);
      }),
    );
  });

  it('takes only stable nodes as eligible, or every live node while none is stable', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const stable = input.nodes.filter((node) => node.eligibleAt <= input.now).map((node) => node.id);
        const expected = stable.length > 0 ? stable : input.nodes.map((node) => node.id);
        expect([...place(input).eligible].sort()).toEqual(expected.sort());
      }),
    );
  });

  it('pins a subscription to its preferred server exactly when that server is eligible', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const plan = place(input);
        const eligible = new Set(plan.eligible);
        for (const { id, preferredServer } of input.subscriptions) {
          const pinned = preferredServer !== undefined && eligible.has(preferredServer);
          expect(plan.pinned(id)).toBe(pinned);
          if (pinned) expect(plan.target.get(id)).toBe(preferredServer);
        }
      }),
    );
  });

  it('moves a subscription off its live owner only to an eligible node, and only while that owner has two more than the least busy', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const plan = place(input);
        const live = new Set(input.nodes.map((node) => node.id));
        const eligible = new Set(plan.eligible);
        const least = Math.min(...plan.eligible.map((node) => plan.counts.get(node) ?? 0));
        for (const { id, owner } of input.subscriptions) {
          const target = plan.target.get(id);
          if (target === undefined) continue;
          if (plan.pinned(id) || owner === undefined || !live.has(owner)) {
            if (!plan.pinned(id)) expect(eligible.has(target)).toBe(true);
            continue;
          }
          if (target === owner) expect((plan.counts.get(owner) ?? 0) - least).toBeLessThanOrEqual(1);
          else expect(eligible.has(target)).toBe(true);
        }
      }),
    );
  });

  it('is a fixed point: once every subscription runs where the plan put it, the plan moves nothing', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const plan = place(input);
        const settled = { ...input, subscriptions: input.subscriptions.map((subscription) => ({ ...subscription, owner: plan.target.get(subscription.id) })) };
        expect(entries(place(settled).target)).toEqual(entries(plan.target));
      }),
    );
  });

  it('names as next server a live node other than the current one, or none when it is the only one', () => {
    fc.assert(
      fc.property(inputArbitrary, (input) => {
        const plan = place(input);
        const live = new Set(input.nodes.map((node) => node.id));
        for (const { id } of input.subscriptions) {
          const current = plan.target.get(id);
          if (current === undefined) continue;
          const next = plan.nextServer(id, current);
          if (live.size === 1) expect(next).toBeUndefined();
          else {
            expect(next).not.toBe(current);
            expect(live.has(next as string)).toBe(true);
          }
        }
      }),
    );
  });
});

describe('place (examples)', () => {
  it('spreads new subscriptions evenly and breaks ties by rendezvous score', () => {
    const nodes = [
      { id: 'a', eligibleAt: 0 },
      { id: 'b', eligibleAt: 0 },
    ];
    const plan = place({ now: NOW, nodes, subscriptions: [{ id: 's1' }, { id: 's2' }, { id: 's3' }, { id: 's4' }] });
    expect(plan.counts).toEqual(new Map([['a', 2], ['b', 2]]));
    // The first subscription placed (in id order) meets two empty nodes: the higher score wins.
    expect(plan.target.get('s1')).toBe(rendezvousScore('s1', 'a') > rendezvousScore('s1', 'b') ? 'a' : 'b');
  });

  it('moves the fewest subscriptions needed to balance, when a new node becomes eligible', () => {
    const subscriptions = ['s1', 's2', 's3', 's4', 's5', 's6'].map((id) => ({ id, owner: 'a' }));
    const plan = place({ now: NOW, nodes: [{ id: 'a', eligibleAt: 0 }, { id: 'b', eligibleAt: 0 }], subscriptions });
    expect(plan.counts).toEqual(new Map([['a', 3], ['b', 3]]));
    // A node not yet stable takes nothing while a stable one exists.
    const early = place({ now: NOW, nodes: [{ id: 'a', eligibleAt: 0 }, { id: 'b', eligibleAt: NOW + 1 }], subscriptions });
    expect(early.counts).toEqual(new Map([['a', 6], ['b', 0]]));
  });
});
