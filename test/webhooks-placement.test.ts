import { describe, expect, it } from 'vitest';
import { place, rendezvousScore, type PlacementSubscription } from '../src/webhooks/cluster/placement.js';

const NOW = 1_000_000;
const stable = (...ids: string[]) => ids.map((id) => ({ id, eligibleAt: NOW - 1 }));
const young = (...ids: string[]) => ids.map((id) => ({ id, eligibleAt: NOW + 5000 }));
const subs = (count: number, extra: (index: number) => Partial<PlacementSubscription> = () => ({})) =>
  Array.from({ length: count }, (_, index) => ({ id: `sub-${String(index).padStart(3, '0')}`, ...extra(index) }));

function countsOf(target: ReadonlyMap<string, string>): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const node of target.values()) counts[node] = (counts[node] ?? 0) + 1;
  return counts;
}

describe('webhook placement', () => {
  it('places six subscriptions two per node, the two preferring b on b', () => {
    const subscriptions = subs(6, (index) => (index < 2 ? { preferredServer: 'b' } : {}));
    const plan = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions });
    expect(countsOf(plan.target)).toEqual({ a: 2, b: 2, c: 2 });
    expect(plan.target.get('sub-000')).toBe('b');
    expect(plan.target.get('sub-001')).toBe('b');
    expect(plan.pinned('sub-000')).toBe(true);
    expect(plan.pinned('sub-002')).toBe(false);
  });

  it('gives each new subscription to the least busy node, ties by rendezvous score', () => {
    const plan = place({ now: NOW, nodes: stable('a', 'b'), subscriptions: [{ id: 'x', owner: 'a' }, { id: 'y' }] });
    expect(plan.target.get('y')).toBe('b');
    const tie = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions: [{ id: 'solo' }] });
    const best = ['a', 'b', 'c'].sort((m, n) => rendezvousScore('solo', n) - rendezvousScore('solo', m))[0];
    expect(tie.target.get('solo')).toBe(best);
  });

  it('is the same plan whatever order the input comes in', () => {
    const subscriptions = subs(40, (index) => ({ owner: ['a', 'b', undefined][index % 3], ...(index % 7 === 0 ? { preferredServer: 'c' } : {}) }));
    const nodes = stable('a', 'b', 'c', 'd');
    const one = place({ now: NOW, nodes, subscriptions });
    const two = place({ now: NOW, nodes: [...nodes].reverse(), subscriptions: [...subscriptions].reverse() });
    expect([...two.target].sort()).toEqual([...one.target].sort());
  });

  it('moves only as many as balance needs when a node joins', () => {
    const subscriptions = subs(10, () => ({ owner: 'a' }));
    const plan = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions });
    const counts = countsOf(plan.target);
    expect(Math.max(...Object.values(counts)) - Math.min(...Object.values(counts))).toBeLessThanOrEqual(1);
    expect(counts.a).toBe(4);
    // 6 moved: exactly the surplus; nothing moved between b and c.
    expect(subscriptions.filter((sub) => plan.target.get(sub.id) !== 'a')).toHaveLength(6);
  });

  it('moves only the subscriptions of a node that leaves, and keeps the rest where they are', () => {
    const owners = ['a', 'b', 'c'];
    const subscriptions = subs(9, (index) => ({ owner: owners[index % 3] }));
    const plan = place({ now: NOW, nodes: stable('a', 'b'), subscriptions });
    for (const sub of subscriptions) if (sub.owner !== 'c') expect(plan.target.get(sub.id)).toBe(sub.owner);
    const counts = countsOf(plan.target);
    expect(Math.abs((counts.a ?? 0) - (counts.b ?? 0))).toBeLessThanOrEqual(1);
  });

  it('balances around pins as far as the pins allow', () => {
    const subscriptions = subs(7, (index) => (index < 5 ? { preferredServer: 'b', owner: 'b' } : { owner: 'b' }));
    const plan = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions });
    expect(countsOf(plan.target)).toEqual({ a: 1, b: 5, c: 1 });
  });

  it('gives a node nothing before it is stable while an eligible node exists, and everything when none is', () => {
    const withEligible = place({ now: NOW, nodes: [...stable('a'), ...young('b')], subscriptions: subs(6) });
    expect(countsOf(withEligible.target)).toEqual({ a: 6 });
    expect(withEligible.eligible).toEqual(['a']);
    // A preferred server that is not stable yet does not pin.
    const preferred = place({ now: NOW, nodes: [...stable('a'), ...young('b')], subscriptions: subs(2, () => ({ preferredServer: 'b' })) });
    expect(countsOf(preferred.target)).toEqual({ a: 2 });
    const coldStart = place({ now: NOW, nodes: young('a', 'b'), subscriptions: subs(6) });
    expect(countsOf(coldStart.target)).toEqual({ a: 3, b: 3 });
  });

  it('fails back to the preferred server once it is eligible again', () => {
    const subscriptions = subs(4, (index) => (index === 0 ? { preferredServer: 'b', owner: 'a' } : { owner: ['a', 'c'][index % 2] }));
    const whileYoung = place({ now: NOW, nodes: [...stable('a', 'c'), ...young('b')], subscriptions });
    expect(whileYoung.target.get('sub-000')).toBe('a');
    const once = place({ now: NOW + 5000, nodes: [...stable('a', 'c'), ...young('b')], subscriptions });
    expect(once.target.get('sub-000')).toBe('b');
  });

  it('names a predictable next server: where the subscription goes if its owner leaves', () => {
    const subscriptions = subs(6, (index) => ({ owner: ['a', 'b', 'c'][index % 3] }));
    const plan = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions });
    for (const sub of subscriptions) {
      const next = plan.nextServer(sub.id);
      expect(next).not.toBe(sub.owner);
      const without = place({ now: NOW, nodes: stable('a', 'b', 'c').filter((node) => node.id !== sub.owner), subscriptions: subscriptions.map((s) => (s.owner === sub.owner ? { id: s.id } : s)) });
      expect(next).toBe(without.target.get(sub.id));
    }
  });

  it('never names the owner read since the placement as its own next server', () => {
    // Planned while sub-000 was on a: without a it would go to c, the less busy of the rest.
    const subscriptions = subs(4, (index) => ({ owner: ['a', 'b', 'b', 'c'][index] }));
    const plan = place({ now: NOW, nodes: stable('a', 'b', 'c'), subscriptions });
    expect(plan.nextServer('sub-000')).toBe('c');
    // Its lease has moved to c since: the next server is where it goes if c leaves.
    expect(plan.nextServer('sub-000', 'c')).toBe('a');
  });
});
