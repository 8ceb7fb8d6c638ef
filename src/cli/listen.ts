import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { HubClient, HubError } from '@switchboard/client';
import { Backoff } from '../core/backoff.js';
import { ValidationError } from '../errors.js';
import type { AcceptedEvent } from '../events/catalogue.js';
import { describeCliError } from './errors.js';
import { isModel, MODEL_EVENT_TYPES, modelObject, MODELS, modelsForEvent, type Model } from '../webhooks/models.js';
import { batchMessageId, generateSecret, parseSecret, signatureHeader } from '../webhooks/delivery/signing.js';
import { readEventStream } from './event-stream.js';
import type { HubConnection } from './hub-api.js';

export interface ForwardOptions {
  forwardTo: string;
  model?: string | undefined;
  /** `-H 'Name: value'`, repeatable. */
  headers: string[];
  /** Where the signing secret is kept (one per hub URL), so it stays the same across runs. */
  secretFile: string;
}

/** `forwardTo` may be left out with `printSecret`, which only prints the secret. */
export interface ListenOptions extends Omit<ForwardOptions, 'forwardTo'> {
  forwardTo?: string | undefined;
  types?: string | undefined;
  printSecret?: boolean;
}

const POST_TIMEOUT_MS = 30_000;

/** `YYYY-MM-DD HH:MM:SS` local time, as `stripe listen` prints it. */
function stamp(date = new Date()): string {
  const pad = (value: number) => String(value).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** The stable `whsec_` secret for this hub: read from the secret file, created there on first use. */
export function listenSecret(secretFile: string, hubUrl: string): string {
  let secrets: Record<string, string> = {};
  try {
    secrets = JSON.parse(readFileSync(secretFile, 'utf8')) as Record<string, string>;
  } catch {
    // First run (or an unreadable file): start a new one.
  }
  const key = new URL(hubUrl).origin;
  const existing = secrets[key];
  if (existing) return existing;
  const secret = generateSecret();
  mkdirSync(dirname(secretFile), { recursive: true, mode: 0o700 });
  writeFileSync(secretFile, `${JSON.stringify({ ...secrets, [key]: secret }, null, 2)}\n`, { mode: 0o600 });
  return secret;
}

export function defaultSecretFile(env: Readonly<Record<string, string | undefined>>, home: string): string {
  return join(env.XDG_CONFIG_HOME ?? join(home, '.config'), 'switchboard', 'listen-secrets.json');
}

function parseHeaders(lines: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (colon <= 0 || !/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) {
      throw new ValidationError(`-H "${line}": expected "Name: value"`, { details: [{ path: '-H', message: `cannot read "${line}"` }] });
    }
    headers[name] = line.slice(colon + 1).trim();
  }
  return headers;
}

function modelOf(value: string | undefined): Model | undefined {
  if (value === undefined) return undefined;
  if (!isModel(value)) throw new ValidationError(`--model: one of ${MODELS.join(', ')}`, { details: [{ path: '--model', message: `unknown model "${value}"` }] });
  return value;
}

/**
 * Posts one event as a webhook subscription would: a JSON array of one model object (the event
 * plus `model` and `seq`), signed with Standard Webhooks headers. One attempt, no retry.
 */
class Forwarder {
  private readonly key: Buffer;
  private readonly extraHeaders: Record<string, string>;
  readonly model: Model | undefined;

  constructor(
    private readonly options: ForwardOptions,
    readonly secret: string,
    private readonly out: NodeJS.WritableStream,
  ) {
    this.key = parseSecret(secret);
    this.extraHeaders = parseHeaders(options.headers);
    this.model = modelOf(options.model);
    new URL(options.forwardTo);
  }

  async forward(position: string, type: string, eventJson: string, eventId: string, generation: string): Promise<boolean> {
    const model = this.model ?? MODELS.find((candidate) => (MODEL_EVENT_TYPES[candidate] as readonly string[]).includes(type));
    // Spliced, not re-serialised: the event's bytes are the ones the log holds.
    const body = `[${model ? modelObject(model, position, eventJson) : `{"seq":"${position}",${eventJson.slice(1)}`}]`;
    const webhookId = batchMessageId('listen', generation, position, position);
    const timestamp = Math.floor(Date.now() / 1000);
    let status: string;
    try {
      const response = await fetch(this.options.forwardTo, {
        method: 'POST',
        headers: {
          ...this.extraHeaders,
          'content-type': 'application/json',
          'user-agent': 'Switchboard-Listen/0.1',
          'x-correlation-id': 'listen',
          'webhook-id': webhookId,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signatureHeader([this.key], webhookId, timestamp, body),
        },
        body,
        signal: AbortSignal.timeout(POST_TIMEOUT_MS),
      });
      await response.arrayBuffer().catch(() => undefined);
      status = String(response.status);
      this.out.write(`${stamp()}  <--  [${status}] POST ${this.options.forwardTo} [${eventId}]\n`);
      return response.ok;
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message ?? (error as Error).message;
      this.out.write(`${stamp()}  [ERROR] Failed to POST: ${cause} [${eventId}]\n`);
      return false;
    }
  }
}

/**
 * `switchboard listen`: reads GET /v1/stream and forwards each event to a local URL, signed like
 * a webhook subscription (so `standardwebhooks` verifies it with the printed secret). Prints one
 * `-->` line per event and one `<--` line per forward; never retries (see `resend`). Runs until
 * `signal` aborts, resuming the stream where it left off when the hub restarts.
 */
export async function listenCommand(connection: HubConnection, options: ListenOptions, signal: AbortSignal, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  const secret = listenSecret(options.secretFile, connection.url);
  if (options.printSecret) {
    out.write(`${secret}\n`);
    return;
  }
  const { forwardTo } = options;
  if (!forwardTo) {
    throw new ValidationError('listen needs --forward-to <url> (or --print-secret to print the signing secret alone)', {
      details: [{ path: '--forward-to', message: 'required' }],
    });
  }
  const forwarder = new Forwarder({ ...options, forwardTo }, secret, out);
  const types = options.types ?? (forwarder.model ? MODEL_EVENT_TYPES[forwarder.model].join(',') : undefined);
  const url = new URL('/v1/stream', connection.url);
  if (types) url.searchParams.set('types', types);
  const generation = randomBytes(4).toString('hex');
  let lastEventId: string | undefined;
  let ready = false;
  /** Reconnecting to the hub: soon after a blip, then every few seconds while it is down. */
  const backoff = new Backoff({ initialMs: 500, maxMs: 5000 });
  /** The last connection failure printed: the same one again while retrying adds nothing. */
  let reported: string | undefined;
  while (!signal.aborted) {
    try {
      await readEventStream(url, connection.token, {
        signal,
        lastEventId,
        onPosition: (id) => {
          lastEventId = id;
          backoff.reset();
          if (reported !== undefined) {
            reported = undefined;
            if (ready) out.write(`${stamp()}  [INFO] reconnected; resuming after ${id}\n`);
          }
          if (!ready) {
            ready = true;
            out.write(`Ready! Forwarding ${types ?? 'every event'} from ${new URL(connection.url).origin} to ${forwardTo}. Your webhook signing secret is ${secret} (^C to quit)\n`);
          }
        },
        onMessage: async ({ id, event, data }) => {
          if (id === undefined) {
            if (event === 'stream.gap') out.write(`${stamp()}  [WARN] some events were trimmed from the hub's log while disconnected: ${data}\n`);
            return;
          }
          let eventId = '';
          try {
            const parsed = JSON.parse(data) as AcceptedEvent;
            // A model that takes only part of a type (auditlog_lite's audit entries) skips the rest, as its subscription does.
            if (forwarder.model !== undefined && !modelsForEvent(parsed).includes(forwarder.model)) return;
            eventId = String(parsed.id ?? '');
          } catch {
            // Forwarded as stored all the same.
          }
          out.write(`${stamp()}   --> ${event} [${eventId}]\n`);
          await forwarder.forward(id, event, data, eventId, generation);
        },
      });
    } catch (error) {
      if (error instanceof HubError && (error.status === 400 || error.status === 401 || error.status === 403)) throw error;
      if (signal.aborted) break;
      const problem = describeCliError(error);
      if (problem !== reported) out.write(`${stamp()}  [ERROR] ${problem}; retrying until it answers (^C to quit)\n`);
      reported = problem;
    }
    if (signal.aborted) break;
    await backoff.wait(signal);
  }
}

/** `switchboard resend <event id>`: forwards one logged event again, with a new webhook-id. Returns false when the POST failed. */
export async function resendCommand(connection: HubConnection, eventId: string, options: ForwardOptions, out: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  const forwarder = new Forwarder(options, listenSecret(options.secretFile, connection.url), out);
  const found = await new HubClient(connection).request<{ position: string; event: { id: string; type: string } }>('GET', `/v1/events/${encodeURIComponent(eventId)}`);
  out.write(`${stamp()}   --> ${found.event.type} [${found.event.id}] (resent)\n`);
  return forwarder.forward(found.position, found.event.type, JSON.stringify(found.event), found.event.id, randomBytes(4).toString('hex'));
}
