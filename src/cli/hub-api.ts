import { SwitchboardError } from '../errors.js';

/** Defaults of `--url` and `--token`, from the environment (read in main.ts). */
export interface HubCliDefaults {
  url: string;
  token: string | undefined;
}

/** Where the CLI finds the hub's HTTP API. */
export interface HubConnection {
  url: string;
  token?: string;
}

/** The hub's error answer, so the CLI prints `CODE: message` without a stack trace. */
export class HubAnswerError extends SwitchboardError {
  readonly code: string;

  constructor(status: number, code: string | undefined, message: string) {
    super(`${message} (HTTP ${status})`);
    this.code = code ?? 'HTTP_ERROR';
  }
}

/** One call to the hub's API; a non-2xx answer becomes an error carrying the hub's message and details. */
export async function callHub(connection: HubConnection, method: string, path: string, body?: unknown): Promise<unknown> {
  const response = await fetch(new URL(path, connection.url), {
    method,
    headers: {
      ...(connection.token ? { authorization: `Bearer ${connection.token}` } : {}),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  if (!response.ok) {
    const error = (parsed as { error?: { code?: string; message?: string; details?: { path: string; message: string }[] } } | undefined)?.error;
    const details = error?.details?.map((detail) => `${detail.path}: ${detail.message}`).join('; ');
    throw new HubAnswerError(response.status, error?.code, `${error?.message ?? text}${details ? `: ${details}` : ''}`);
  }
  return parsed;
}
