import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import fp from 'fastify-plugin';
import type { Config, Role, TenantScope } from '../config/schema.js';
import { AuthInvalidError, AuthRequiredError, ForbiddenError } from '../errors.js';

export interface Principal {
  name: string;
  roles: ReadonlySet<Role>;
  /** Tenant limit of the token; undefined means every tenant. */
  scope: TenantScope | undefined;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Role a bearer token needs for this route; routes without one are public. */
    role?: Role;
    /** The route bounds its own time (intake spools): the hub-wide deadline does not apply. */
    ownDeadline?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

const ALL_ROLES: ReadonlySet<Role> = new Set<Role>(['ingest', 'read', 'admin']);

/** Bearer tokens from config, looked up by SHA-256 digest so no token is compared byte by byte. */
export class TokenStore {
  private readonly byDigest = new Map<string, Principal>();

  constructor(auth: Config['auth']) {
    if (auth.apiToken) this.byDigest.set(digest(auth.apiToken), { name: 'api-token', roles: ALL_ROLES, scope: undefined });
    for (const token of auth.tokens) {
      this.byDigest.set(digest(token.token), { name: token.name, roles: new Set(token.roles), scope: token.scope });
    }
  }

  /** With no token configured the hub is open (it refuses to bind beyond loopback that way). */
  get open(): boolean {
    return this.byDigest.size === 0;
  }

  authenticate(authorization: string | undefined): Principal {
    if (this.open) return { name: 'anonymous', roles: ALL_ROLES, scope: undefined };
    const match = authorization?.match(/^Bearer\s+(\S+)\s*$/i);
    if (!authorization) throw new AuthRequiredError('missing Authorization: Bearer <token>');
    if (!match?.[1]) throw new AuthInvalidError('the Authorization header must be "Bearer <token>"');
    const principal = this.byDigest.get(digest(match[1]));
    if (!principal) throw new AuthInvalidError('unknown token');
    return principal;
  }
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export function authorize(request: FastifyRequest, tokens: TokenStore, role: Role): Principal {
  const principal = tokens.authenticate(request.headers.authorization);
  if (!principal.roles.has(role)) throw new ForbiddenError(`token "${principal.name}" lacks the ${role} role`);
  return principal;
}

/**
 * Checks the bearer token on every route whose `config.role` names one. The hook is attached to
 * those routes only: the others (CTI with Basic auth, health) pay nothing for it.
 */
export const bearerAuth = fp<{ tokens: TokenStore }>(
  async (app: FastifyInstance, { tokens }) => {
    app.decorateRequest('principal', undefined);
    app.addHook('onRoute', (route) => {
      const role = route.config?.role;
      if (!role) return;
      const check: onRequestHookHandler = (request, _reply, done) => {
        try {
          request.principal = authorize(request, tokens, role);
        } catch (error) {
          done(error as Error);
          return;
        }
        done();
      };
      route.onRequest = [check, ...(route.onRequest === undefined ? [] : [route.onRequest].flat())];
    });
  },
  { name: 'switchboard-bearer-auth' },
);
