import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import { EVENT_TYPES, type EventType } from '../events/catalogue.js';
import { INTEGRATOR_EVENT_TYPES } from './integrators-profile.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { ScriptReply, scripts } from '../redis/scripts.js';
import { didYouMean } from '../validation.js';
import { LogReader, positionTime, readableEvent, type UnreadableEntries } from '../log/reader.js';
import { parseSince } from './stream-ids.js';

/** Names become key suffixes and group names: no braces (hash tags), no spaces, no colons. */
export const INTEGRATOR_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$';

/** The tenant an integrator is limited to (a reseller, a domain, or both). */
export interface IntegratorScope {
  reseller?: string;
  domain?: string;
}

/**
 * What the registry hash stores per integrator. The append script reads `types`, `list`, `stream`,
 * `scope` and `streamKey` (src/redis/lua/appendEvents.lua, op I), and integrators' consumeCdrs
 * reads `types` and `streamKey`, so changing these names changes both contracts.
 */
export interface IntegratorSpec {
  name: string;
  types: EventType[];
  /** True when the integrator has a consumer group on a stream. */
  stream: boolean;
  /** Its legacy list key, when it asked for one. */
  list?: string;
  /**
   * The list's name was chosen by the integrator: it is not in the log's slot, so the append
   * script leaves it to the list relay (src/integrators/list-relay.ts), which starts after `relayFrom`.
   */
  relayed?: boolean;
  relayFrom?: string;
  /** Only this tenant's events reach it (its own stream and list); absent: every tenant's. */
  scope?: IntegratorScope;
  /** Its own stream, for an integrator with a scope; absent: the shared stream. */
  streamKey?: string;
  createdAt: string;
}

export interface IntegratorRequest {
  name: string;
  types?: string[];
  stream?: boolean;
  legacyList?: boolean;
  /** A list name of the integrator's choosing (implies legacyList). */
  listKey?: string;
  scope?: IntegratorScope;
}

/** The registration answer: the spec plus every key the integrator reads, so nobody guesses. */
export interface IntegratorView {
  name: string;
  types: EventType[];
  legacyList: boolean;
  scope?: IntegratorScope;
  stream?: string;
  group?: string;
  deadLetter?: string;
  list?: string;
  createdAt: string;
}

export interface IntegratorLag {
  /** Delivered to a worker, not acknowledged yet. */
  pending: number;
  /** Age of the oldest pending entry since it was accepted; null when nothing is pending. */
  oldestPendingAgeMs: number | null;
  /** In the stream, not delivered to any worker of the group yet (counted up to UNDELIVERED_COUNT_CAP when Redis's lag is unknown); null without a group. */
  undelivered: number | null;
  deadLetters: number;
  /** Entries the hard cap dropped before this integrator acknowledged them. */
  lost: number;
  listLength: number | null;
}

export interface ReplayItem {
  /** Position in the stream; pass it back as `since` to continue after it. */
  streamId: string;
  id: string;
  type: string;
  event: unknown;
}

export interface ReplayPage {
  items: ReplayItem[];
  /** Cursor for the next page, or null at the end of the stream. */
  next: string | null;
  /** The oldest entry still in the stream: a `since` before it may have missed trimmed entries. */
  oldestAvailable: string | null;
}

/** Undelivered entries are counted exactly up to this many when Redis's own `lag` is unknown. */
export const UNDELIVERED_COUNT_CAP = 10_000;

/** Entries scanned per replay page at most, so a page of a rarely taken type stays bounded. */
const REPLAY_SCAN_FACTOR = 10;

/** The integrator registry: a Redis hash under {log}, read by the append script at append time. */
export class IntegratorRegistry {

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    /** Where replays report entries that hold no readable event (they are skipped). */
    private readonly unreadable?: UnreadableEntries,
  ) {}

  async register(request: IntegratorRequest, now = new Date()): Promise<IntegratorView> {
    const types = request.types ?? ['cdr.created'];
    refuseTypesNotDelivered(types);
    if (request.listKey !== undefined && request.legacyList === false) {
      throw new ValidationError('listKey names a legacy list: it cannot go with legacyList false', {
        details: [{ path: '/listKey', message: 'requires legacyList (true or absent)' }],
      });
    }
    const legacyList = request.legacyList ?? request.listKey !== undefined;
    // A group nobody reads pins retention, so a list-only integrator gets no group unless it asks.
    const stream = request.stream ?? !legacyList;
    if (!stream && !legacyList) {
      throw new ValidationError('an integrator reads the stream, a legacy list, or both', {
        details: [{ path: '/stream', message: 'stream and legacyList cannot both be false' }],
      });
    }
    const scoped = request.scope !== undefined && (request.scope.reseller !== undefined || request.scope.domain !== undefined);
    const spec: IntegratorSpec = {
      name: request.name,
      types: [...new Set(types)] as EventType[],
      stream,
      ...(legacyList ? { list: request.listKey ?? this.keys.integratorList(request.name) } : {}),
      // The relay starts after the log's newest entry now: the events accepted from here on.
      ...(request.listKey !== undefined ? { relayed: true, relayFrom: await this.logHead() } : {}),
      ...(scoped ? { scope: pickScope(request.scope as IntegratorScope), streamKey: this.keys.integratorScopedStream(request.name) } : {}),
      createdAt: now.toISOString(),
    };
    const created = await scripts.registerIntegrator.run(
      this.client,
      [this.keys.integrators, this.streamOf(spec)],
      [spec.name, JSON.stringify(spec), stream ? '1' : '0'],
    );
    if (created !== ScriptReply.OK) throw new ConflictError(`integrator "${spec.name}" already exists`);
    return this.view(spec);
  }

  /** The stream an integrator's group reads: its own when it has a scope, else the shared one. */
  streamOf(spec: Pick<IntegratorSpec, 'streamKey'>): string {
    return spec.streamKey ?? this.keys.cdrStream;
  }

  async remove(spec: IntegratorSpec): Promise<void> {
    const { name } = spec;
    const removed = await scripts.unregisterIntegrator.run(
      this.client,
      [this.keys.integrators, this.streamOf(spec), this.keys.integratorDeadLetters(name), this.keys.integratorList(name), this.keys.integratorCounters],
      // Its own stream goes with it; on the shared one only its group does.
      [name, spec.streamKey ? '1' : '0'],
    );
    if (removed !== ScriptReply.OK) throw new NotFoundError(`no integrator "${name}"`);
    // A list of its own choosing is in its own slot, with its relay cursor: not the script's to delete.
    if (spec.relayed && spec.list) await this.client.sendCommand(['DEL', spec.list, this.keys.relayCursor(spec.list)]);
  }

  private logHead(): Promise<string> {
    return new LogReader(this.client, this.keys.eventLog).head();
  }

  async get(name: string): Promise<IntegratorSpec> {
    const spec = await this.client.hGet(this.keys.integrators, name);
    if (!spec) throw new NotFoundError(`no integrator "${name}"`);
    return JSON.parse(spec) as IntegratorSpec;
  }

  async list(): Promise<IntegratorSpec[]> {
    const all = await this.client.hGetAll(this.keys.integrators);
    return Object.values(all)
      .map((spec) => JSON.parse(spec) as IntegratorSpec)
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  view(spec: IntegratorSpec): IntegratorView {
    return {
      name: spec.name,
      types: spec.types,
      legacyList: spec.list !== undefined,
      ...(spec.scope ? { scope: spec.scope } : {}),
      ...(spec.stream
        ? { stream: this.streamOf(spec), group: spec.name, deadLetter: this.keys.integratorDeadLetters(spec.name) }
        : {}),
      ...(spec.list ? { list: spec.list } : {}),
      createdAt: spec.createdAt,
    };
  }

  /** Lag of each integrator, read in one round trip (node-redis pipelines commands of one tick). */
  async lag(specs: readonly IntegratorSpec[], now = Date.now()): Promise<Map<string, IntegratorLag>> {
    const withGroup = specs.filter((spec) => spec.stream);
    const streams = [...new Set(withGroup.map((spec) => this.streamOf(spec)))];
    const [groupsPerStream, counters, summaries, lists] = await Promise.all([
      Promise.all(streams.map((stream) => this.groupInfo(stream))),
      this.client.hGetAll(this.keys.integratorCounters),
      Promise.all(
        withGroup.map((spec) =>
          (this.client.sendCommand(['XPENDING', this.streamOf(spec), spec.name]) as Promise<[number, string | null]>).catch(() => [0, null] as const),
        ),
      ),
      Promise.all(specs.map((spec) => (spec.list ? this.client.lLen(spec.list) : Promise.resolve(null)))),
    ]);
    const groups = new Map(streams.map((stream, index) => [stream, groupsPerStream[index] ?? new Map<string, number>()]));
    const lag = new Map<string, IntegratorLag>();
    specs.forEach((spec, index) => {
      const summary = spec.stream ? summaries[withGroup.indexOf(spec)] : undefined;
      const oldest = summary?.[1];
      lag.set(spec.name, {
        pending: Number(summary?.[0] ?? 0),
        oldestPendingAgeMs: oldest ? Math.max(0, now - positionTime(oldest)) : null,
        undelivered: spec.stream ? (groups.get(this.streamOf(spec))?.get(spec.name) ?? null) : null,
        deadLetters: Number(counters[`${spec.name}:dead`] ?? 0),
        lost: Number(counters[`${spec.name}:lost`] ?? 0),
        listLength: lists[index] ?? null,
      });
    });
    return lag;
  }

  /**
   * Entries of the integrator's types after `since` (an ISO time: accepted at or after it; or a
   * stream id: strictly after it), read with XRANGE: the live group is not touched. Entries
   * that hold no readable event are skipped (and reported to `unreadable`).
   */
  async replay(spec: IntegratorSpec, since: string, limit: number): Promise<ReplayPage> {
    const types = new Set<string>(spec.types);
    const stream = new LogReader(this.client, this.streamOf(spec), this.unreadable);
    const items: ReplayItem[] = [];
    let start = parseSince(since);
    let scanned = 0;
    let next: string | null = null;
    while (items.length < limit && scanned < limit * REPLAY_SCAN_FACTOR) {
      const count = limit - items.length;
      const page = await stream.from(start, count);
      scanned += page.length;
      for (const entry of page) {
        const event = types.has(entry.type) ? readableEvent(entry) : undefined;
        if (event !== undefined) items.push({ streamId: entry.position, id: entry.id, type: entry.type, event });
      }
      const last = page.at(-1)?.position;
      next = page.length < count || last === undefined ? null : last;
      if (next === null) break;
      start = `(${next}`;
    }
    return { items, next, oldestAvailable: (await stream.oldest()) ?? null };
  }

  /** Undelivered entries per group: Redis's lag, else counted up to the cap. */
  private async groupInfo(stream: string): Promise<Map<string, number>> {
    const reply = (await this.client.sendCommand(['XINFO', 'GROUPS', stream]).catch(() => [])) as unknown[][];
    const groups = new Map<string, number>();
    await Promise.all(
      reply.map(async (flat) => {
        const group: Record<string, unknown> = {};
        for (let i = 0; i + 1 < flat.length; i += 2) group[String(flat[i])] = flat[i + 1];
        const undelivered =
          group.lag === null || group.lag === undefined
            ? await scripts.countStreamAfter.run(this.client, [stream], [String(group['last-delivered-id']), String(UNDELIVERED_COUNT_CAP)])
            : group.lag;
        groups.set(String(group.name), Number(undelivered));
      }),
    );
    return groups;
  }
}

function pickScope(scope: IntegratorScope): IntegratorScope {
  return { ...(scope.reseller !== undefined ? { reseller: scope.reseller } : {}), ...(scope.domain !== undefined ? { domain: scope.domain } : {}) };
}

/**
 * An integrator takes only types the fan-out delivers (INTEGRATOR_EVENT_TYPES): a type outside the
 * catalogue, or one that never reaches integrators (cti.*), is named with a did-you-mean.
 */
function refuseTypesNotDelivered(types: readonly string[]): void {
  const delivered = INTEGRATOR_EVENT_TYPES as readonly string[];
  const unknown = types.filter((type) => !(EVENT_TYPES as string[]).includes(type));
  const undelivered = types.filter((type) => (EVENT_TYPES as string[]).includes(type) && !delivered.includes(type));
  if (unknown.length === 0 && undelivered.length === 0) return;
  const parts = [
    ...(unknown.length > 0 ? [`unknown event types: ${unknown.map((type) => `${type}${didYouMean(type, delivered)}`).join(', ')}`] : []),
    ...(undelivered.length > 0 ? [`event types that never reach integrators: ${undelivered.join(', ')} (the CTI cache appends cti.* to the event log itself, past the fan-out: docs/event-log.md)`] : []),
  ];
  throw new ValidationError(parts.join('; '), {
    details: types.flatMap((type, index) => {
      if (unknown.includes(type)) return [{ path: `/types/${index}`, message: `not in the catalogue (GET /v1/schemas)${didYouMean(type, delivered)}` }];
      if (undelivered.includes(type)) return [{ path: `/types/${index}`, message: `${type} never reaches integrators: the CTI cache appends it to the event log itself, past the fan-out${didYouMean(type, delivered)}` }];
      return [];
    }),
  });
}
