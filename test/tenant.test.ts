import { describe, expect, it } from 'vitest';
import type { AcceptedEvent } from '../src/events/catalogue.js';
import { ANY_TENANT, eventTenant, holdToLimit, withinTenant } from '../src/events/tenant.js';

const event = (fields: Partial<AcceptedEvent>): AcceptedEvent => ({ id: 'e1', type: 'call.offered', time: '2026-12-06T07:00:00.000Z', data: {}, ...fields });

describe('withinTenant', () => {
  it('takes every tenant when there is no limit, or the limit names no level', () => {
    expect(withinTenant({}, undefined)).toBe(true);
    expect(withinTenant({ reseller: 'r1', domain: 'acme', user: '1002' }, {})).toBe(true);
    expect(withinTenant({}, { reseller: undefined, domain: undefined })).toBe(true);
  });

  it('needs every level the limit names to be equal, and refuses a tenant that does not know it', () => {
    const limit = { reseller: 'r1', domain: 'acme' };
    expect(withinTenant({ reseller: 'r1', domain: 'acme', user: '1002' }, limit)).toBe(true);
    expect(withinTenant({ reseller: 'r1', domain: 'other' }, limit)).toBe(false);
    expect(withinTenant({ reseller: 'r2', domain: 'acme' }, limit)).toBe(false);
    expect(withinTenant({ domain: 'acme' }, limit)).toBe(false);
    expect(withinTenant({ reseller: 'r1', domain: 'acme' }, { user: '1002' })).toBe(false);
    expect(withinTenant({ reseller: 'r1', domain: 'acme', user: '1002' }, { user: '1002' })).toBe(true);
  });

  it('compares exactly: no case folding, no prefixes, and an empty value is a value', () => {
    expect(withinTenant({ domain: 'Acme' }, { domain: 'acme' })).toBe(false);
    expect(withinTenant({ domain: 'acme.example' }, { domain: 'acme' })).toBe(false);
    expect(withinTenant({ domain: '' }, { domain: 'acme' })).toBe(false);
    expect(withinTenant({ domain: '' }, { domain: '' })).toBe(true);
  });

  it('treats the given wildcard as every value, and only when it is given', () => {
    const subscription = { reseller: ANY_TENANT, domain: 'acme', user: ANY_TENANT };
    expect(withinTenant({ reseller: 'r9', domain: 'acme', user: '1002' }, subscription, ANY_TENANT)).toBe(true);
    expect(withinTenant({ domain: 'acme' }, subscription, ANY_TENANT)).toBe(true);
    expect(withinTenant({ reseller: 'r9', domain: 'other' }, subscription, ANY_TENANT)).toBe(false);
    // Without the wildcard, `*` is a value like any other (a token limit, a ?scope= filter).
    expect(withinTenant({ reseller: 'r9', domain: 'acme' }, subscription)).toBe(false);
    expect(withinTenant({ reseller: '*', domain: 'acme', user: '*' }, subscription)).toBe(true);
  });
});

describe('holdToLimit', () => {
  it('leaves a request alone when there is no limit, as a copy', () => {
    const requested = { domain: 'acme', user: '1002' };
    const held = holdToLimit(requested, undefined);
    expect(held).toEqual({ scope: { domain: 'acme', user: '1002' }, conflicts: [] });
    expect(held.scope).not.toBe(requested);
  });

  it('fills in the levels the limit sets and keeps the others', () => {
    expect(holdToLimit({ user: '1002' }, { reseller: 'r1', domain: 'acme' })).toEqual({ scope: { reseller: 'r1', domain: 'acme', user: '1002' }, conflicts: [] });
    expect(holdToLimit({ domain: 'acme' }, { reseller: 'r1' })).toEqual({ scope: { reseller: 'r1', domain: 'acme' }, conflicts: [] });
    expect(holdToLimit({ reseller: 'r1', domain: 'acme' }, { reseller: 'r1', domain: 'acme' }).conflicts).toEqual([]);
  });

  it('lists every level that names another tenant, widest first, and does not change the request', () => {
    const requested = { reseller: 'r2', domain: 'other', user: '1002' };
    expect(holdToLimit(requested, { reseller: 'r1', domain: 'acme' })).toEqual({
      scope: { reseller: 'r1', domain: 'acme', user: '1002' },
      conflicts: [
        { level: 'reseller', allowed: 'r1', requested: 'r2' },
        { level: 'domain', allowed: 'acme', requested: 'other' },
      ],
    });
    expect(requested).toEqual({ reseller: 'r2', domain: 'other', user: '1002' });
    expect(holdToLimit({ reseller: ANY_TENANT }, { reseller: 'r1' }).conflicts).toEqual([{ level: 'reseller', allowed: 'r1', requested: '*' }]);
  });
});

describe('eventTenant', () => {
  it('reads the scope first', () => {
    const scoped = event({ scope: { reseller: 'r1', domain: 'acme', user: '1002' }, data: { domain: 'other', agent: '2001' } });
    expect(eventTenant(scoped)).toEqual({ reseller: 'r1', domain: 'acme', user: '1002' });
  });

  it("lets the data's domain, agent and user stand in where the scope leaves them out", () => {
    expect(eventTenant(event({ data: { domain: 'acme', agent: '2001', user: '3001' } }))).toEqual({ reseller: undefined, domain: 'acme', user: '2001' });
    expect(eventTenant(event({ data: { user: '3001' } }))).toEqual({ reseller: undefined, domain: undefined, user: '3001' });
    // A field that is not a string names nobody.
    expect(eventTenant(event({ data: { domain: 7, agent: { id: 1 } } }))).toEqual({ reseller: undefined, domain: undefined, user: undefined });
  });

  it("takes an audit entry's domain from target_domain, whatever the scope says", () => {
    const audit = event({ type: 'audit.logged', scope: { reseller: 'r1', domain: 'hq' }, data: { target_domain: 'acme', domain: 'other' } });
    expect(eventTenant(audit)).toEqual({ reseller: 'r1', domain: 'acme', user: undefined });
    expect(eventTenant(event({ type: 'audit.logged', scope: { domain: 'hq' }, data: {} })).domain).toBeUndefined();
  });

  it('matches a subscription through withinTenant as the dispatcher does', () => {
    const offered = event({ scope: { reseller: 'r1' }, data: { domain: 'acme', agent: '2001' } });
    const subscription = (domain: string, user: string) => ({ reseller: ANY_TENANT, domain, user });
    const matching = [subscription('acme', '2001'), subscription('acme', ANY_TENANT), subscription(ANY_TENANT, '2001'), subscription('other', ANY_TENANT), subscription('acme', '2002')].map(
      (def) => withinTenant(eventTenant(offered), def, ANY_TENANT),
    );
    expect(matching).toEqual([true, true, true, false, false]);
  });
});
