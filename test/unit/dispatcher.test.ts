import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { AcceptedEvent, EventType } from '../../src/events/catalogue.js';
import { MatchIndex } from '../../src/webhooks/delivery/dispatcher.js';
import { subscriptionMatches } from '../../src/webhooks/delivery/feed.js';
import { MODELS, modelsForType, type Model } from '../../src/webhooks/models.js';
import type { SubscriptionDef } from '../../src/webhooks/store.js';

/*
 * The dispatcher's routing: which owned subscriptions an event of the log reaches. MatchIndex
 * looks at a few buckets instead of every subscription; it must agree with the plain rule
 * (subscriptionMatches, which a catching-up subscription applies). test/webhooks.test.ts delivers
 * through the whole dispatcher on redis-server.
 */

const NAMES = ['*', 'a', 'b'];
const tenantValue = fc.option(fc.constantFrom('a', 'b', 'c'), { nil: undefined });
const TYPES: EventType[] = ['agent.status_changed', 'call.offered', 'call.ended', 'cdr.created', 'audit.logged', 'message.received', 'campaign.status_changed', 'subscription.error' as EventType];

const defArbitrary = fc.record({
  id: fc.uuid(),
  model: fc.constantFrom<Model>(...MODELS),
  reseller: fc.constantFrom(...NAMES),
  domain: fc.constantFrom(...NAMES),
  user: fc.constantFrom(...NAMES),
});

const eventArbitrary = fc
  .record({
    type: fc.constantFrom(...TYPES),
    reseller: tenantValue,
    domain: tenantValue,
    user: tenantValue,
    agent: tenantValue,
    dataDomain: tenantValue,
    targetDomain: tenantValue,
    action: fc.constantFrom('create', 'update', 'delete'),
    objectType: fc.constantFrom('user', 'phonenumber', 'device'),
  })
  .map(({ type, reseller, domain, user, agent, dataDomain, targetDomain, action, objectType }): AcceptedEvent => {
    const scope = Object.fromEntries(Object.entries({ reseller, domain, user }).filter(([, value]) => value !== undefined));
    const data: Record<string, unknown> = { action, object_type: objectType };
    if (agent !== undefined) data.agent = agent;
    if (dataDomain !== undefined) data.domain = dataDomain;
    if (targetDomain !== undefined) data.target_domain = targetDomain;
    return { id: 'e', type, time: '2026-12-06T06:00:00.000Z', ...(Object.keys(scope).length > 0 ? { scope } : {}), data };
  });

const asDef = (fields: Pick<SubscriptionDef, 'id' | 'model' | 'reseller' | 'domain' | 'user'>) => ({ def: fields as SubscriptionDef });

describe('MatchIndex (the dispatcher routing)', () => {
  it('matches exactly the subscriptions the plain rule matches, each once', () => {
    fc.assert(
      fc.property(fc.uniqueArray(defArbitrary, { selector: (def) => def.id, maxLength: 25 }), fc.array(eventArbitrary, { minLength: 1, maxLength: 10 }), (defs, events) => {
        const index = new MatchIndex<{ def: SubscriptionDef }>();
        const items = defs.map(asDef);
        for (const item of items) index.add(item);
        for (const event of events) {
          const visited: string[] = [];
          index.match(event, (item) => visited.push(item.def.id));
          const expected = items.filter((item) => subscriptionMatches(item.def, event)).map((item) => item.def.id);
          expect(visited.sort()).toEqual(expected.sort());
          expect(index.wants(event.type)).toBe(modelsForType(event.type).some((model) => defs.some((def) => def.model === model)));
        }
      }),
    );
  });

  it('forgets a deleted subscription and its empty buckets', () => {
    fc.assert(
      fc.property(fc.uniqueArray(defArbitrary, { selector: (def) => def.id, minLength: 1, maxLength: 15 }), fc.array(fc.nat()), eventArbitrary, (defs, removals, event) => {
        const index = new MatchIndex<{ def: SubscriptionDef }>();
        const items = defs.map(asDef);
        for (const item of items) index.add(item);
        const removed = new Set(removals.map((n) => items[n % items.length]));
        for (const item of removed) if (item) index.delete(item);
        const kept = items.filter((item) => !removed.has(item));
        const visited: string[] = [];
        index.match(event, (item) => visited.push(item.def.id));
        expect(visited.sort()).toEqual(kept.filter((item) => subscriptionMatches(item.def, event)).map((item) => item.def.id).sort());
        expect(index.wants(event.type)).toBe(modelsForType(event.type).some((model) => kept.some((item) => item.def.model === model)));
      }),
    );
  });

  it('keeps the operational subscription.* events away from every subscription', () => {
    const index = new MatchIndex<{ def: SubscriptionDef }>();
    for (const model of MODELS) index.add(asDef({ id: model, model, reseller: '*', domain: '*', user: '*' }));
    const visited: string[] = [];
    index.match({ id: 'x', type: 'subscription.error' as EventType, time: '2026-12-06T06:00:00.000Z', data: {} }, (item) => visited.push(item.def.id));
    expect(visited).toEqual([]);
    expect(index.wants('subscription.error')).toBe(false);
  });
});
