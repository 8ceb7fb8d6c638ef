import type { TenantScope } from '../config/schema.js';
import { ForbiddenError, ValidationError } from '../errors.js';
import { EVENT_TYPES, type AcceptedEvent } from '../events/catalogue.js';
import type { Principal } from '../server/auth.js';
import { didYouMean } from '../validation.js';
import { eventTenant, holdToLimit, TENANT_LEVELS, withinTenant, type Tenant, type TenantLevel } from '../events/tenant.js';


/**
 * Which events (or live-state records) a reader sees: the token's tenant limit, then the
 * `?scope=` and `?types=` the request asked for. A tenant-limited token sees only records of its
 * tenant; asking for another tenant is refused.
 */
export class EventFilter {
  private constructor(
    /** Exact types and `prefix.` families (from `call.*`); undefined: every type. */
    private readonly types: { exact: ReadonlySet<string>; prefixes: readonly string[] } | undefined,
    readonly scope: Readonly<Partial<Record<TenantLevel, string>>>,
  ) {}

  /**
   * Parses `types` (comma-separated catalogue types, `call.*` for a family) and `scope`
   * (`reseller:r1,domain:acme.example,user:1002`) against the principal's tenant limit.
   */
  static parse(query: { types?: string | undefined; scope?: string | undefined }, principal: Principal | undefined): EventFilter {
    return new EventFilter(parseTypes(query.types), resolveScope(parseScope(query.scope), principal?.scope));
  }

  /** Scope filter only (live state has no event types). */
  static scopeOnly(scope: string | undefined, principal: Principal | undefined): EventFilter {
    return new EventFilter(undefined, resolveScope(parseScope(scope), principal?.scope));
  }

  wantsType(type: string): boolean {
    if (!this.types) return true;
    return this.types.exact.has(type) || this.types.prefixes.some((prefix) => type.startsWith(prefix));
  }

  /** True when the filter restricts by tenant at all (otherwise events need not be parsed for it). */
  get scoped(): boolean {
    return this.scope.reseller !== undefined || this.scope.domain !== undefined || this.scope.user !== undefined;
  }

  allowsTenant(tenant: Tenant): boolean {
    return withinTenant(tenant, this.scope);
  }

  matches(type: string, event: () => AcceptedEvent): boolean {
    return this.wantsType(type) && (!this.scoped || this.allowsTenant(eventTenant(event())));
  }
}

/** `call.*`, `cdr.*`…: every family a `?types=` item may name. */
const TYPE_FAMILIES = [...new Set(EVENT_TYPES.map((type) => `${type.slice(0, type.indexOf('.'))}.*`))];

function parseTypes(value: string | undefined): { exact: Set<string>; prefixes: string[] } | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const problems: { path: string; message: string }[] = [];
  for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    if (item.endsWith('.*')) {
      const prefix = item.slice(0, -1);
      if (EVENT_TYPES.some((type) => type.startsWith(prefix))) prefixes.push(prefix);
      else problems.push({ path: '/types', message: `no event type matches "${item}"${didYouMean(item, TYPE_FAMILIES)}` });
    } else if ((EVENT_TYPES as readonly string[]).includes(item)) {
      exact.add(item);
    } else {
      problems.push({ path: '/types', message: `unknown event type "${item}"${didYouMean(item, EVENT_TYPES)}` });
    }
  }
  if (problems.length > 0) throw new ValidationError(`types: ${problems.map((problem) => problem.message).join('; ')}`, { details: problems });
  return { exact, prefixes };
}

function parseScope(value: string | undefined): Partial<Record<TenantLevel, string>> {
  const scope: Partial<Record<TenantLevel, string>> = {};
  if (value === undefined || value.trim() === '') return scope;
  for (const part of value.split(',')) {
    const separator = part.indexOf(':');
    const level = part.slice(0, separator).trim() as TenantLevel;
    const wanted = part.slice(separator + 1).trim();
    if (separator < 0 || !TENANT_LEVELS.includes(level) || wanted === '' || scope[level] !== undefined) {
      throw new ValidationError(`scope: expected "level:value" pairs separated by commas, levels reseller, domain, user (each once), got "${part}"`, {
        details: [{ path: '/scope', message: `cannot read "${part}"` }],
      });
    }
    scope[level] = wanted;
  }
  return scope;
}

function resolveScope(requested: Partial<Record<TenantLevel, string>>, limit: TenantScope | undefined): Partial<Record<TenantLevel, string>> {
  const { scope, conflicts } = holdToLimit(requested, limit);
  const [conflict] = conflicts;
  if (conflict) throw new ForbiddenError(`this token is limited to ${conflict.level} "${conflict.allowed}" and cannot read ${conflict.level} "${conflict.requested}"`);
  return scope;
}
