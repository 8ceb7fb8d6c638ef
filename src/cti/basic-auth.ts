import { hash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { CtiConfig } from '../config/schema.js';
import { AuthInvalidError, AuthRequiredError, ConfigError } from '../errors.js';

export const BASIC_CHALLENGE = 'Basic realm="switchboard-cti", charset="UTF-8"';

/** scrypt cost of hashes made at load; stored hashes carry their own. */
const DEFAULT_COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const HASH_FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
/** Verified credentials remembered so scrypt runs once per client, not per request. */
const VERIFIED_CACHE_SIZE = 1024;

interface Verification {
  result: Promise<string>;
  /** Set once `result` resolved. */
  user?: string;
}

interface PasswordHash {
  cost: { N: number; r: number; p: number };
  salt: Buffer;
  key: Buffer;
}

/** `scrypt$N$r$p$<salt base64>$<key base64>`, the `passwordHash` format of `cti.users`. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, DEFAULT_COST, KEY_BYTES);
  const { N, r, p } = DEFAULT_COST;
  return `scrypt$${N}$${r}$${p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

/** HTTP Basic credentials from `cti.users`; plain passwords are hashed at load and not kept. */
export class BasicAuthenticator {
  /**
   * By digest of the Authorization header (credentials are not kept in memory); concurrent first
   * requests share one scrypt run.
   */
  private readonly verified = new Map<string, Verification>();

  private constructor(
    private readonly users: ReadonlyMap<string, PasswordHash>,
    /** Stands in for unknown users, so their check costs what a real one does. */
    private readonly decoy: PasswordHash,
    /** No user configured on an open (loopback, no credentials) hub: every request passes. */
    readonly open: boolean,
  ) {}

  static async create(users: CtiConfig['users'], hubOpen: boolean): Promise<BasicAuthenticator> {
    if (users.length === 0 && !hubOpen) {
      throw new ConfigError('cti.users: the CTI cache needs at least one user when the hub has credentials configured');
    }
    const byName = new Map<string, PasswordHash>();
    for (const [index, user] of users.entries()) {
      const path = `cti.users[${index}]`;
      if ((user.password === undefined) === (user.passwordHash === undefined)) {
        throw new ConfigError(`${path}: set exactly one of password and passwordHash`);
      }
      if (byName.has(user.username)) throw new ConfigError(`${path}.username: "${user.username}" is listed twice`);
      const stored = user.passwordHash ?? (await hashPassword(user.password ?? ''));
      byName.set(user.username, parseHash(stored, `${path}.passwordHash`));
    }
    const decoy = parseHash(await hashPassword(randomBytes(16).toString('hex')), 'decoy');
    return new BasicAuthenticator(byName, decoy, users.length === 0);
  }

  /**
   * The user of credentials verified before, without waiting: the per-request path. Undefined
   * when `authenticate` must check them.
   */
  verifiedUser(authorization: string | undefined): string | undefined {
    if (this.open) return 'anonymous';
    return authorization ? this.verified.get(digestOf(authorization))?.user : undefined;
  }

  /** Returns the user name, or throws a 401 error carrying the Basic challenge. */
  async authenticate(authorization: string | undefined): Promise<string> {
    if (this.open) return 'anonymous';
    if (!authorization) throw new AuthRequiredError('missing Authorization: Basic credentials', { challenge: BASIC_CHALLENGE });
    const digest = digestOf(authorization);
    let verification = this.verified.get(digest);
    if (!verification) {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.clear();
      const entry: Verification = { result: this.verify(authorization) };
      verification = entry;
      this.verified.set(digest, entry);
      entry.result.then(
        (user) => (entry.user = user),
        // Failures are not remembered: a later request with the same header is checked again.
        () => this.verified.delete(digest),
      );
    }
    return verification.result;
  }

  private async verify(authorization: string): Promise<string> {
    const credentials = parseBasic(authorization);
    const stored = this.users.get(credentials.username);
    const hash = stored ?? this.decoy;
    const key = await derive(credentials.password, hash.salt, hash.cost, hash.key.length);
    if (!timingSafeEqual(key, hash.key) || !stored) {
      throw new AuthInvalidError('wrong user name or password', { challenge: BASIC_CHALLENGE });
    }
    return credentials.username;
  }
}

function digestOf(authorization: string): string {
  return hash('sha256', authorization, 'base64');
}

function parseBasic(authorization: string): { username: string; password: string } {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization);
  const decoded = match?.[1] ? Buffer.from(match[1], 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new AuthInvalidError('the Authorization header must be "Basic base64(user:password)"', { challenge: BASIC_CHALLENGE });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function parseHash(text: string, path: string): PasswordHash {
  const match = HASH_FORMAT.exec(text);
  const [, n = '', r = '', p = '', salt = '', key = ''] = match ?? [];
  const cost = { N: Number(n), r: Number(r), p: Number(p) };
  const valid = match && cost.N > 1 && (cost.N & (cost.N - 1)) === 0 && cost.r > 0 && cost.p > 0;
  if (!valid) throw new ConfigError(`${path}: expected scrypt$N$r$p$<salt base64>$<key base64> with N a power of two`);
  return { cost, salt: Buffer.from(salt, 'base64'), key: Buffer.from(key, 'base64') };
}

function derive(password: string, salt: Buffer, cost: PasswordHash['cost'], length: number): Promise<Buffer> {
  // The thread pool runs scrypt, so a check does not block the event loop.
  const options: ScryptOptions = { ...cost, maxmem: 256 * cost.N * cost.r + 1_048_576 };
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, options, (error, key) => (error ? reject(error) : resolve(key))),
  );
}
