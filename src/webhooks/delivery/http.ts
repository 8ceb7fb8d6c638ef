import { rootCertificates } from 'node:tls';
import { Pool } from 'undici';
import type { WebhooksConfig } from '../../config/schema.js';
import { readPemFile } from '../../server/tls.js';
import { TargetRefusedError, type TargetPolicy } from './target-policy.js';

export interface PostResult {
  ok: boolean;
  /** HTTP status, when a response arrived. */
  status?: number;
  /** Short reason for a failure (status line or error code); never a secret or a payload. */
  error?: string;
  /** From `Retry-After` (seconds or an HTTP date). */
  retryAfterMs?: number;
  /** A timeout or an overload answer (429, 502, 503, 504): the next attempt waits at least the floor. */
  throttled: boolean;
  /** 410 Gone: the receiver asks to stop (Standard Webhooks), the subscription is disabled. */
  gone: boolean;
}

const THROTTLE_STATUSES = new Set([429, 502, 503, 504]);
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
/** OpenSSL's verdicts on a receiver's certificate chain that a CA in webhooks.caFile cures. */
const UNTRUSTED_CERTIFICATE_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
]);

/**
 * Outbound POSTs: one undici Pool per origin, connect/response timeouts, the target policy's
 * lookup on every connection, redirects never followed (undici 7 follows none without the
 * redirect interceptor), and at most `maxResponseBodyBytes` of a response read before the socket
 * is let go.
 */
export class WebhookSender {
  private readonly pools = new Map<string, Pool>();
  /** The system's CAs and webhooks.caFile's (a `ca` option replaces Node's defaults, so both are listed); undefined: the defaults. */
  private readonly trustedCas: string[] | undefined;

  constructor(
    private readonly config: WebhooksConfig,
    private readonly policy: TargetPolicy,
  ) {
    this.trustedCas = config.caFile === undefined ? undefined : [...rootCertificates, readPemFile(config.caFile, 'webhooks.caFile', 'CERTIFICATE')];
  }

  private pool(origin: string): Pool {
    let pool = this.pools.get(origin);
    if (!pool) {
      pool = new Pool(origin, {
        connections: this.config.connectionsPerOrigin,
        connect: { timeout: this.config.connectTimeoutMs, lookup: this.policy.lookup, ...(this.trustedCas ? { ca: this.trustedCas } : {}) },
        headersTimeout: this.config.responseTimeoutMs,
        bodyTimeout: this.config.responseTimeoutMs,
      });
      this.pools.set(origin, pool);
    }
    return pool;
  }

  async post(url: URL, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<PostResult> {
    try {
      this.policy.checkLiteral(url);
      const auth = url.username ? { authorization: `Basic ${Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')}` } : {};
      const response = await this.pool(url.origin).request({
        method: 'POST',
        path: `${url.pathname}${url.search}`,
        headers: { ...headers, ...auth },
        body,
        signal,
      });
      await this.drain(response.body);
      const status = response.statusCode;
      const ok = status >= 200 && status < 300;
      const retryAfterMs = parseRetryAfter(response.headers['retry-after']);
      return {
        ok,
        status,
        ...(ok ? {} : { error: `HTTP ${status}` }),
        ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
        throttled: THROTTLE_STATUSES.has(status),
        gone: status === 410,
      };
    } catch (error) {
      const code = (error as { code?: string }).code;
      const message = error instanceof TargetRefusedError ? `target refused: ${error.message}` : describeTlsRefusal(error as Error, url) ?? code ?? (error as Error).name;
      return { ok: false, error: message, throttled: code !== undefined && TIMEOUT_CODES.has(code), gone: false };
    }
  }

  /** Reads at most the configured number of body bytes, then drops the rest with the socket. */
  private async drain(body: AsyncIterable<Buffer> & { destroy(): unknown }): Promise<void> {
    let bytes = 0;
    try {
      for await (const chunk of body) {
        bytes += chunk.length;
        if (bytes > this.config.maxResponseBodyBytes) {
          body.destroy();
          return;
        }
      }
    } catch {
      // A body cut short by the peer does not change the status it already sent.
    }
  }

  async close(): Promise<void> {
    const pools = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(pools.map((pool) => pool.destroy()));
  }
}

/** A receiver's certificate this hub does not accept, said with what to change; undefined for other errors. */
function describeTlsRefusal(error: Error, url: URL): string | undefined {
  const code = (error as { code?: string }).code ?? '';
  if (UNTRUSTED_CERTIFICATE_CODES.has(code)) {
    return `TLS: the certificate of ${url.host} is not signed by a trusted CA (${code}: ${error.message}); add its CA to webhooks.caFile`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the certificate of ${url.host} does not name ${url.hostname} (${code})`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') return `TLS: the certificate of ${url.host} is outside its validity dates (${code})`;
  return undefined;
}

function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
