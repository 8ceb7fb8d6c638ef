import { hash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { CtiConfig } from '../config/schema.js';
import { AuthInvalidError, AuthRequiredError, AuthThrottledError, ConfigError } from '../errors.js';

export const BASIC_CHALLENGE = 'Basic realm="switchboard-cti", charset="UTF-8"';

/** scrypt cost of hashes made at load; stored hashes carry their own. */
const DEFAULT_COST = { N: 16_384, r: 8, p: 1 } as const;
const KEY_BYTES = 32;
const HASH_FORMAT = /^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;
/** Limits of password checking; see docs/security.md. */
export interface PasswordCheckLimits {
  /** Verified credentials remembered (least recently used dropped first); failures never evict them. */
  verifiedCacheSize: number;
  /** scrypt runs at once, in total: they occupy libuv's 4-thread pool, which DNS and others share. */
  maxConcurrentChecks: number;
  /** scrypt runs at once for one client address. */
  maxConcurrentChecksPerAddress: number;
  /** scrypt runs started per second, in total (a token bucket of that size): each takes a core for tens of ms. */
  maxChecksPerSecond: number;
}

/** Failed credentials remembered so the same wrong password is refused without scrypt (users are fixed at start). */
const FAILED_CACHE_SIZE = 4096;

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

/**
 * HTTP Basic credentials from `cti.users`; plain passwords are hashed at load and not kept.
 *
 * A flood of wrong passwords must not starve known clients: verified credentials live in a
 * bounded LRU that only successes enter, so failures never evict them; known wrong credentials
 * are refused from a cache of their own; and the scrypt runs are bounded per client address, in
 * total and per second, beyond which a request is answered 429 at once instead of queueing on
 * the thread pool or taking the CPU the event loop needs (measured: npm run bench -- security).
 */
export class BasicAuthenticator {
  /** Digest of the Authorization header (credentials are not kept in memory) → user; LRU order. */
  private readonly verified = new Map<string, string>();
  private readonly failed = new Map<string, true>();
  /** Checks running: concurrent requests with the same header share one scrypt run. */
  private readonly checking = new Map<string, Promise<string>>();
  private readonly checksByAddress = new Map<string, number>();
  /** Token bucket of check starts: refilled at maxChecksPerSecond, holding at most that many. */
  private checkTokens: number;
  private tokensAt = performance.now();

  private constructor(
    private readonly users: ReadonlyMap<string, PasswordHash>,
    /** Stands in for unknown users, so their check costs what a real one does. */
    private readonly decoy: PasswordHash,
    /** No user configured on an open (loopback, no credentials) hub: every request passes. */
    readonly open: boolean,
    private readonly limits: PasswordCheckLimits,
  ) {
    this.checkTokens = this.bucketSize;
  }

  static async create(users: CtiConfig['users'], hubOpen: boolean, limits: PasswordCheckLimits): Promise<BasicAuthenticator> {
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
    return new BasicAuthenticator(byName, decoy, users.length === 0, limits);
  }

  /** At least one check may always start once the bucket refilled. */
  private get bucketSize(): number {
    return Math.max(1, this.limits.maxChecksPerSecond);
  }

  /** scrypt runs in progress (for metrics and tests). */
  get checksRunning(): number {
    return this.checking.size;
  }

  /**
   * The user of credentials verified before, without waiting: the per-request path. Undefined
   * when `authenticate` must check them.
   */
  verifiedUser(authorization: string | undefined): string | undefined {
    if (this.open) return 'anonymous';
    if (!authorization) return undefined;
    const digest = digestOf(authorization);
    const user = this.verified.get(digest);
    if (user !== undefined) {
      // Most recently used last: eviction takes the first.
      this.verified.delete(digest);
      this.verified.set(digest, user);
    }
    return user;
  }

  /** Returns the user name, or throws a 401 error carrying the Basic challenge, or a 429 beyond the check limits. */
  async authenticate(authorization: string | undefined, address = ''): Promise<string> {
    if (this.open) return 'anonymous';
    if (!authorization) throw new AuthRequiredError('missing Authorization: Basic credentials', { challenge: BASIC_CHALLENGE });
    const known = this.verifiedUser(authorization);
    if (known !== undefined) return known;
    const digest = digestOf(authorization);
    if (this.failed.has(digest)) throw wrongCredentials();
    const running = this.checking.get(digest);
    if (running) return running;

    const fromAddress = this.checksByAddress.get(address) ?? 0;
    if (fromAddress >= this.limits.maxConcurrentChecksPerAddress) {
      throw new AuthThrottledError(`${fromAddress} password checks from ${address || 'this address'} are running; retry in a second`, { retryAfterSeconds: 1 });
    }
    if (this.checking.size >= this.limits.maxConcurrentChecks) {
      throw new AuthThrottledError(`${this.checking.size} password checks are running; retry in a second`, { retryAfterSeconds: 1 });
    }
    const now = performance.now();
    this.checkTokens = Math.min(this.bucketSize, this.checkTokens + ((now - this.tokensAt) / 1000) * this.limits.maxChecksPerSecond);
    this.tokensAt = now;
    if (this.checkTokens < 1) {
      throw new AuthThrottledError(`more than ${this.limits.maxChecksPerSecond} new credentials per second; retry in a second`, { retryAfterSeconds: 1 });
    }
    this.checkTokens -= 1;
    this.checksByAddress.set(address, fromAddress + 1);
    const check = this.verify(authorization).then(
      (user) => {
        remember(this.verified, digest, user, this.limits.verifiedCacheSize);
        return user;
      },
      (error: unknown) => {
        if (error instanceof AuthInvalidError) remember(this.failed, digest, true, FAILED_CACHE_SIZE);
        throw error;
      },
    );
    this.checking.set(digest, check);
    const release = () => {
      this.checking.delete(digest);
      const left = (this.checksByAddress.get(address) ?? 1) - 1;
      if (left > 0) this.checksByAddress.set(address, left);
      else this.checksByAddress.delete(address);
    };
    check.then(release, release);
    return check;
  }

  private async verify(authorization: string): Promise<string> {
    const credentials = parseBasic(authorization);
    const stored = this.users.get(credentials.username);
    const hash = stored ?? this.decoy;
    const key = await derive(credentials.password, hash.salt, hash.cost, hash.key.length);
    if (!timingSafeEqual(key, hash.key) || !stored) throw wrongCredentials();
    return credentials.username;
  }
}

function wrongCredentials(): AuthInvalidError {
  return new AuthInvalidError('wrong user name or password', { challenge: BASIC_CHALLENGE });
}

/** Inserts as most recently used, dropping the least recently used beyond `size`. */
function remember<V>(cache: Map<string, V>, key: string, value: V, size: number): void {
  cache.delete(key);
  cache.set(key, value);
  if (cache.size > size) cache.delete(cache.keys().next().value as string);
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
