import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { ValidationError } from '../errors.js';

/**
 * Outbound target policy (SSRF): a post-url must not reach private, loopback, link-local,
 * unique-local, multicast or unspecified addresses unless `webhooks.allowPrivateTargets` is set.
 * Checked when a subscription is saved and again on every connection, through the resolver the
 * socket actually uses, so a name that re-resolves to a private address (DNS rebinding) is refused.
 */
const BLOCKED = new BlockList();
for (const [network, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv4');
}
for (const [network, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
] as const) {
  BLOCKED.addSubnet(network, prefix, 'ipv6');
}

export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return true;
  // IPv4-mapped IPv6 (::ffff:10.0.0.1) is checked as the IPv4 address it carries.
  const mapped = family === 6 ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  if (mapped) return BLOCKED.check(mapped, 'ipv4');
  return BLOCKED.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

export class TargetRefusedError extends Error {
  readonly code = 'TARGET_REFUSED';
}

function resolveAll(hostname: string): Promise<LookupAddress[]> {
  return new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );
}

function refusal(hostname: string, addresses: readonly LookupAddress[]): string | undefined {
  const blocked = addresses.find((entry) => isPrivateAddress(entry.address));
  return blocked ? `${hostname} resolves to ${blocked.address}, a private or local address` : undefined;
}

export class TargetPolicy {
  constructor(private readonly allowPrivate: boolean) {}

  /** Parses and checks a post-url at save time (400 when refused or unresolvable). */
  async validate(postUrl: string): Promise<URL> {
    const invalid = (message: string) =>
      new ValidationError(`post-url: ${message}`, { details: [{ path: '/post-url', message }] });
    let url: URL;
    try {
      url = new URL(postUrl);
    } catch {
      throw invalid('not a valid URL');
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalid('must be http or https');
    if (this.allowPrivate) return url;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    let addresses: LookupAddress[];
    try {
      addresses = isIP(hostname) ? [{ address: hostname, family: isIP(hostname) }] : await resolveAll(hostname);
    } catch (error) {
      throw invalid(`cannot resolve ${hostname}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
    const reason = refusal(hostname, addresses);
    if (reason) throw invalid(`${reason}; refused (set webhooks.allowPrivateTargets to allow)`);
    return url;
  }

  /** Refuses an IP-literal target, which never goes through `lookup`. */
  checkLiteral(url: URL): void {
    if (this.allowPrivate) return;
    const hostname = url.hostname.replace(/^\[|\]$/g, '');
    if (isIP(hostname) && isPrivateAddress(hostname)) {
      throw new TargetRefusedError(`${hostname} is a private or local address`);
    }
  }

  /** A `net.connect` lookup that fails the connection when any resolved address is refused. */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error) return callback(error, '', 0);
      const reason = this.allowPrivate ? undefined : refusal(hostname, addresses);
      if (reason) return callback(new TargetRefusedError(reason), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      const first = addresses[0];
      if (!first) return callback(new TargetRefusedError(`${hostname} has no address`), '', 0);
      return callback(null, first.address, first.family);
    });
  };
}
