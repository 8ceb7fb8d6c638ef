import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { ValidationError } from '../../errors.js';

/**
 * Outbound target policy (SSRF): a post-url must reach a public unicast address unless
 * `webhooks.allowPrivateTargets` is set. Checked when a subscription is saved and again on every
 * connection, through the resolver the socket actually uses, so a name that re-resolves to a
 * private address (DNS rebinding) is refused.
 *
 * Addresses are classified by ipaddr.js (its IANA special-purpose ranges). IPv4 must be plain
 * unicast. IPv6 must be global unicast (2000::/3); the transition forms that carry an IPv4
 * address (mapped ::ffff:a.b.c.d, translated ::ffff:0:a.b.c.d, NAT64 64:ff9b::, 6to4 2002::/16
 * and the old compatible ::a.b.c.d) are judged by the IPv4 address they carry, and Teredo is refused.
 */
const GLOBAL_UNICAST = ipaddr.IPv6.parseCIDR('2000::/3');

/** Why an address is refused, or undefined when it is a public unicast address. */
export function addressRefusal(address: string): string | undefined {
  if (!ipaddr.isValid(address)) return 'not an IP address';
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv4') {
    const range = parsed.range();
    return range === 'unicast' ? undefined : `${range} address`;
  }
  const v6 = parsed as ipaddr.IPv6;
  const range = v6.range();
  const embedded = embeddedIPv4(v6, range);
  if (embedded) {
    const inner = addressRefusal(embedded.toString());
    return inner === undefined ? undefined : `${range === 'unicast' ? 'IPv4-compatible' : range} form of ${embedded.toString()}, a ${inner}`;
  }
  if (range !== 'unicast') return `${range} address`;
  if (!v6.match(GLOBAL_UNICAST)) return 'address outside global unicast (2000::/3)';
  return undefined;
}

function embeddedIPv4(v6: ipaddr.IPv6, range: string): ipaddr.IPv4 | undefined {
  const parts = v6.parts;
  const last32 = () => new ipaddr.IPv4([parts[6]! >> 8, parts[6]! & 0xff, parts[7]! >> 8, parts[7]! & 0xff]);
  if (range === 'ipv4Mapped' || range === 'rfc6145' || range === 'rfc6052') return last32();
  if (range === '6to4') return new ipaddr.IPv4([parts[1]! >> 8, parts[1]! & 0xff, parts[2]! >> 8, parts[2]! & 0xff]);
  // ::a.b.c.d (RFC 4291 "IPv4-compatible", deprecated); ::1 and :: are classified above.
  if (range === 'unicast' && parts.slice(0, 6).every((part) => part === 0)) return last32();
  return undefined;
}

export function isPrivateAddress(address: string): boolean {
  return addressRefusal(address) !== undefined;
}

/** The URL with any user name and password replaced by `***`: for every answer, log and event. */
export function redactUserinfo(postUrl: string): string {
  let url: URL;
  try {
    url = new URL(postUrl);
  } catch {
    return postUrl;
  }
  if (!url.username && !url.password) return postUrl;
  url.username = '***';
  url.password = '';
  return url.href;
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
  for (const entry of addresses) {
    const why = addressRefusal(entry.address);
    if (why !== undefined) return hostname === entry.address ? `${hostname} is a ${why}` : `${hostname} resolves to ${entry.address}, a ${why}`;
  }
  return undefined;
}

export class TargetPolicy {
  constructor(private readonly allowPrivate: boolean) {}

  /** Parses and checks a post-url at save time (400 when refused or unresolvable). */
  async validate(postUrl: string): Promise<URL> {
    const invalid = (message: string) =>
      new ValidationError(`post-url: ${message}`, { details: [{ path: '/post-url', message }] });
    // The URL parser silently drops raw CR, LF and tab: refuse them rather than guess what was meant.
    if ([...postUrl].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f)) throw invalid('contains control characters (CR, LF, tab…)');
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
    const why = isIP(hostname) ? addressRefusal(hostname) : undefined;
    if (why !== undefined) throw new TargetRefusedError(`${hostname} is a ${why}`);
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
