import { randomBytes } from 'node:crypto';
import type { TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { WebhooksConfig } from '../../config/schema.js';
import { ANY_TENANT, holdToLimit, withinTenant } from '../../events/tenant.js';
import { ForbiddenError, ValidationError, type ErrorDetail } from '../../errors.js';
import type { Principal } from '../../server/auth.js';
import { didYouMean, summarize, validationDetails } from '../../validation.js';
import { isModel, MODELS, type Model } from '../models.js';
import { rotateSecret } from './secret-rotation.js';
import { generateSecret, parseSecret } from '../delivery/signing.js';
import { slotOf, type SubscriptionDef } from '../store.js';
import { redactUserinfo, type TargetPolicy } from '../delivery/target-policy.js';

/** The writable fields of a subscription, in the NetSapiens v2 spelling (as the schema let them through). */
export interface SubscriptionFields {
  model?: string;
  'post-url'?: string;
  reseller?: string;
  domain?: string;
  user?: string;
  'subscription-expires-datetime'?: string;
  'preferred-server'?: string;
  'subscription-geo-support'?: 'yes' | 'no';
  secret?: string;
  'error-count'?: number;
  'posts-count'?: number;
  status?: string;
}

/** NetSapiens gives API-key subscriptions 20 years. */
const DEFAULT_LIFETIME_MS = 20 * 365.25 * 86_400_000;

/** Schema problems of a request body, every one listed (Fastify's default would strip unknown keys). */
export function schemaProblems<T extends TSchema>(schema: T, body: unknown): ErrorDetail[] {
  return validationDetails(Value.Errors(schema, body ?? {}));
}

export function rejectIfAny(problems: readonly ErrorDetail[]): void {
  if (problems.length === 0) return;
  // One problem per path and message: TypeBox may report a field twice.
  const unique = problems.filter((problem, i) => problems.findIndex((other) => other.path === problem.path && other.message === problem.message) === i);
  throw new ValidationError(`invalid subscription request: ${summarize(unique)}`, { details: unique });
}

/** Runs a check that throws a ValidationError, collecting its details instead. */
async function collect(problems: ErrorDetail[], check: () => unknown): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    problems.push(...(error.details ?? [{ path: '/', message: error.message }]));
  }
}

/** An ISO time, or undefined with a problem noted; an expiry must lie in the future. */
export function parseDatetime(value: string, field: string, problems: ErrorDetail[], { future = false } = {}): string | undefined {
  const iso = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(value) ? `${value.replace(' ', 'T')}Z` : value;
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) {
    problems.push({ path: `/${field}`, message: 'invalid date-time' });
    return undefined;
  }
  if (future && ms <= Date.now()) {
    problems.push({ path: `/${field}`, message: `${new Date(ms).toISOString()} is in the past` });
    return undefined;
  }
  return new Date(ms).toISOString();
}

/** NetSapiens scope rules: `*` (all) needs a token not limited to one tenant at that level. */
export function resolveScope(
  principal: Principal | undefined,
  requested: { reseller?: string | undefined; domain?: string | undefined; user?: string | undefined },
): { reseller: string; domain: string; user: string } {
  const { scope, conflicts } = holdToLimit({ reseller: requested.reseller, domain: requested.domain }, principal?.scope);
  const [conflict] = conflicts;
  if (conflict) {
    throw new ForbiddenError(`token "${principal?.name}" is limited to ${conflict.level} "${conflict.allowed}" and cannot subscribe to ${conflict.level} "${conflict.requested}"`);
  }
  return { reseller: scope.reseller ?? ANY_TENANT, domain: scope.domain ?? ANY_TENANT, user: requested.user ?? ANY_TENANT };
}

export function visibleTo(principal: Principal | undefined, def: SubscriptionDef): boolean {
  return withinTenant(def, principal?.scope);
}

const text = (value: unknown) => (typeof value === 'string' ? value : undefined);

/**
 * Turns the API's view of a subscription into its stored definition: checks the model, path
 * domain, target policy, dates and secret (every problem listed in one 400), then the scope
 * against the token. No HTTP, no Redis.
 */
export class SubscriptionBuilder {
  constructor(
    private readonly config: Pick<WebhooksConfig, 'slots' | 'secretRotationGraceMs'>,
    private readonly policy: TargetPolicy,
  ) {}

  /** A new subscription (a fresh id; the secret generated when absent). `problems` holds the schema's. */
  async create(body: SubscriptionFields, problems: ErrorDetail[], principal: Principal | undefined, pathDomain?: string): Promise<SubscriptionDef> {
    const expiresAt = await this.check(body, problems, pathDomain);
    rejectIfAny(problems);
    const scope = resolveScope(principal, { ...body, domain: pathDomain ?? body.domain });
    const id = randomBytes(16).toString('hex');
    const now = new Date();
    const preferred = body['preferred-server'];
    return {
      id,
      model: body.model as Model,
      postUrl: body['post-url'] as string,
      ...scope,
      geoSupport: body['subscription-geo-support'] ?? 'yes',
      ...(preferred ? { preferredServer: preferred } : {}),
      createdAt: now.toISOString(),
      expiresAt: expiresAt ?? new Date(now.getTime() + DEFAULT_LIFETIME_MS).toISOString(),
      slot: slotOf(id, this.config.slots),
      secret: body.secret ?? generateSecret(),
    };
  }

  /** `previous` with the fields a PUT changes; an empty `preferred-server` removes the preference. */
  async update(previous: SubscriptionDef, input: SubscriptionFields, problems: ErrorDetail[], principal: Principal | undefined, pathDomain?: string): Promise<SubscriptionDef> {
    const body = { ...input };
    // A client echoing back what it read sends the redacted URL: that keeps the stored one.
    if (body['post-url'] !== undefined && body['post-url'] === redactUserinfo(previous.postUrl)) delete body['post-url'];
    for (const counter of ['error-count', 'posts-count'] as const) {
      if (body[counter] !== undefined && body[counter] !== 0) problems.push({ path: `/${counter}`, message: 'can only be reset to 0' });
    }
    if (body.status === 'pending' || body.status === 'error') problems.push({ path: '/status', message: 'can be set to active or disabled only' });
    const expiresAt = await this.check(body, problems, pathDomain);
    rejectIfAny(problems);
    const scope = resolveScope(principal, {
      reseller: body.reseller ?? previous.reseller,
      domain: body.domain ?? previous.domain,
      user: body.user ?? previous.user,
    });
    const rest: SubscriptionDef = { ...previous };
    delete rest.preferredServer;
    const preferred = body['preferred-server'] === undefined ? previous.preferredServer : body['preferred-server'] || undefined;
    return {
      ...rest,
      ...scope,
      ...(body.model !== undefined && isModel(body.model) ? { model: body.model } : {}),
      ...(preferred ? { preferredServer: preferred } : {}),
      ...(body['post-url'] !== undefined ? { postUrl: body['post-url'] } : {}),
      ...(body['subscription-geo-support'] !== undefined ? { geoSupport: body['subscription-geo-support'] } : {}),
      ...(expiresAt !== undefined ? { expiresAt } : {}),
      ...(body.secret !== undefined ? rotateSecret(previous, body.secret, this.config.secretRotationGraceMs) : {}),
    };
  }

  /** The checks create and update share; returns the parsed expiry when one was given. */
  private async check(body: SubscriptionFields, problems: ErrorDetail[], pathDomain: string | undefined): Promise<string | undefined> {
    if (pathDomain !== undefined && text(body.domain) !== undefined && body.domain !== pathDomain) {
      problems.push({ path: '/domain', message: `"${body.domain}" differs from the path's "${pathDomain}"` });
    }
    const model = text(body.model);
    if (model !== undefined && !isModel(model)) problems.push({ path: '/model', message: `unknown model "${model}"${didYouMean(model, MODELS)}; one of ${MODELS.join(', ')}` });
    const postUrl = text(body['post-url']);
    if (postUrl !== undefined) await collect(problems, () => this.policy.validate(postUrl));
    if (text(body.secret) !== undefined) await collect(problems, () => parseSecret(body.secret as string));
    const expiry = text(body['subscription-expires-datetime']);
    return expiry === undefined ? undefined : parseDatetime(expiry, 'subscription-expires-datetime', problems, { future: true });
  }
}
