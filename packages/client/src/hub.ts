import type { SubmittedEvent } from './events.js';

/** One problem of a rejected request, as the hub lists it (`index` is the event's place in a batch). */
export interface HubErrorDetail {
  index?: number;
  path: string;
  message: string;
}

/** The hub answered with an error: its stable `code`, the HTTP status and every listed problem. */
export class HubError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: HubErrorDetail[];

  constructor(status: number, code: string, message: string, details: HubErrorDetail[] = []) {
    super(message);
    this.name = 'HubError';
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/** Nothing answered at the hub's URL (refused, reset, DNS, timeout); `cause` holds the network error. */
export class HubUnreachableError extends Error {
  readonly code = 'HUB_UNREACHABLE';
  readonly url: string;

  constructor(url: string, options: { cause: unknown }) {
    super(`cannot reach ${url}: is the hub running?`, options);
    this.name = 'HubUnreachableError';
    this.url = url;
  }
}

export interface HubClientOptions {
  /** The hub's base URL, e.g. `http://127.0.0.1:8080`. */
  url: string;
  /** Bearer token with the roles the calls need (ingest, read, admin). */
  token?: string;
  /** Longest wait for one answer. Default 30000. */
  timeoutMs?: number;
}


/** The intake's 202 answer. */
export interface Accepted {
  accepted: number;
  duplicates: number;
  ids: string[];
}

/** The hub's HTTP API: typed errors instead of status checks, no body (and no content type) on bodiless calls. */
export class HubClient {
  /** The base URL without credentials or a trailing slash, as error messages show it. */
  readonly url: string;
  private readonly base: URL;
  private readonly token: string | undefined;
  private readonly timeoutMs: number;

  constructor(options: HubClientOptions) {
    this.base = new URL(options.url);
    this.url = this.base.origin + this.base.pathname.replace(/\/+$/, '');
    this.token = options.token;
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /**
   * POST /v1/events: one event or a batch (rejected whole on any problem, every problem listed).
   * Each event's `data` is typed by its `type` from the catalogue's schemas: a misspelt field or
   * value does not compile.
   */
  sendEvents(events: SubmittedEvent | SubmittedEvent[]): Promise<Accepted> {
    return this.request<Accepted>('POST', '/v1/events', events);
  }

  /** Any API call; resolves the parsed JSON answer (undefined when empty), rejects with HubError or HubUnreachableError. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
    let response: Response;
    try {
      response = await fetch(new URL(path.replace(/^\//, ''), `${this.url}/`), {
        method,
        headers: {
          accept: 'application/json',
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new HubUnreachableError(this.url, { cause: error });
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new HubError(response.status, 'NOT_JSON', `${this.url} answered HTTP ${response.status} with a body that is not JSON: is it a Switchboard hub?`);
    }
    if (!response.ok) {
      const error = (parsed as { error?: { code?: string; message?: string; details?: HubErrorDetail[] } } | undefined)?.error;
      throw new HubError(response.status, error?.code ?? `HTTP_${response.status}`, error?.message ?? (text || response.statusText), error?.details ?? []);
    }
    return parsed as T;
  }
}
