import type { AcceptedEvent } from './catalogue.js';

/**
 * Tenants: who an event, a subscription, an integrator or a token belongs to, and the one rule for
 * whether one lies inside another. The SSE stream and live filters, webhook subscriptions, the
 * integrators' lists and the tokens' limits all match through `withinTenant`; the append script
 * applies the same rule to integrators in Lua (op I of src/redis/lua/appendEvents.lua).
 */

/** The levels of a tenant, widest first. */
export const TENANT_LEVELS = ['reseller', 'domain', 'user'] as const;
export type TenantLevel = (typeof TENANT_LEVELS)[number];

/** Tenant coordinates: a level left out is unknown (in a record) or unlimited (in a limit). */
export type Tenant = { readonly [level in TenantLevel]?: string | undefined };

/** A token's tenant limit (src/config/schema.ts TenantScope): it never names a user. */
export type TenantLimit = Omit<Tenant, 'user'>;

/** A webhook subscription stores this at a level it takes every value of (NetSapiens `*`). */
export const ANY_TENANT = '*';

/**
 * True when `tenant` lies inside `limit`: every level the limit names equals the tenant's. A level
 * the limit leaves out, or sets to `any` when one is given, takes every value, an unknown one too.
 */
export function withinTenant(tenant: Tenant, limit: Tenant | undefined, any?: string): boolean {
  if (!limit) return true;
  for (const level of TENANT_LEVELS) {
    const wanted = limit[level];
    if (wanted !== undefined && wanted !== any && tenant[level] !== wanted) return false;
  }
  return true;
}

/** A level where a request names another tenant than its token's limit allows. */
export interface TenantConflict {
  level: keyof TenantLimit;
  allowed: string;
  requested: string;
}

/**
 * `requested` held to a token's limit: each level the limit sets is filled in with the limit's
 * value, and each level where `requested` names another value is a conflict, for the caller to
 * refuse in its own words. `requested` itself is not changed.
 */
export function holdToLimit<T extends Tenant>(requested: T, limit: TenantLimit | undefined): { scope: T; conflicts: TenantConflict[] } {
  const scope: T = { ...requested };
  const conflicts: TenantConflict[] = [];
  for (const level of ['reseller', 'domain'] as const) {
    const allowed = limit?.[level];
    if (allowed === undefined) continue;
    const asked = scope[level];
    if (asked !== undefined && asked !== allowed) conflicts.push({ level, allowed, requested: asked });
    (scope as Record<TenantLevel, string | undefined>)[level] = allowed;
  }
  return { scope, conflicts };
}

/**
 * Types whose tenant domain is a field of their data, whatever the scope says: the audit log is
 * filtered on the domain a change applies to (docs/contracts/netsapiens-subscriptions.md).
 * Intake holds a domain-limited token to it.
 */
export const DATA_DOMAIN_FIELDS: Readonly<Partial<Record<string, string>>> = { 'audit.logged': 'target_domain' };

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * The tenant an event belongs to, for the SSE stream's filter and webhook subscriptions: `scope`,
 * with the event's own fields standing in where the scope leaves them out (the agent or user for
 * the user, a subscriber's domain for the domain), and DATA_DOMAIN_FIELDS for the audit log's
 * domain. (Integrators take an event by its scope alone: src/integrators/integrators-profile.ts.)
 */
export function eventTenant(event: AcceptedEvent): { reseller: string | undefined; domain: string | undefined; user: string | undefined } {
  const { data } = event;
  const domainField = DATA_DOMAIN_FIELDS[event.type];
  return {
    reseller: event.scope?.reseller,
    domain: domainField === undefined ? (event.scope?.domain ?? text(data.domain)) : text(data[domainField]),
    user: event.scope?.user ?? text(data.agent) ?? text(data.user),
  };
}
