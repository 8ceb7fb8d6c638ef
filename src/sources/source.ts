import { connect, type Socket } from 'node:net';
import type { Logger } from 'pino';
import type { TenantScope } from '../config/schema.js';
import { Backoff } from '../core/backoff.js';
import { describeError } from '../core/describe-error.js';
import type { AgentStatus, EventType } from '../events/catalogue.js';
import type { HubEvents } from '../log/hub-events.js';
import type { ReadinessReport } from '../server/health.js';
import type { SourceMetrics } from './metrics.js';

/** A catalogue event mapped from a PBX event, before the source's name and scope are stamped on it. */
export interface SourceEvent {
  /** Deterministic per PBX event, so a re-sent event is deduplicated by the log. */
  id: string;
  type: EventType;
  time: string;
  data: Record<string, unknown>;
}

/** An agent's wrap-up after a call, ending at `untilMs` (the PBX's clock), which the PBX does not announce. */
export interface WrapupEnd {
  agent: string;
  untilMs: number;
}

/** What every source's configuration shares (src/config/schema.ts). */
export interface SourceConnectionConfig {
  name: string;
  host: string;
  port: number;
  scope?: TenantScope | undefined;
  connectTimeoutMs: number;
  reconnectInitialMs: number;
  reconnectMaxMs: number;
}

/**
 * Sees a connection's raw traffic, both ways: `switchboard pbx record` writes it to a file
 * (src/sources/recording.ts). Called in the order the bytes go over the wire.
 */
export interface SourceTap {
  connected(): void;
  received(chunk: Buffer): void;
  sent(text: string): void;
  closed(): void;
}

export interface SourceDependencies {
  /** The hub's door for the events it makes; a recording's (src/cli/pbx.ts) appends nothing. */
  hubEvents: HubEvents;
  metrics: SourceMetrics;
  logger: Logger;
  tap?: SourceTap | undefined;
}

/** Appends in flight above which the source stops reading its socket (TCP pushes back on the PBX). */
const MAX_APPENDS_IN_FLIGHT = 16;
/**
 * Agents whose last status a source remembers (about 150 bytes each); beyond it the least
 * recently changed are forgotten, and a resync re-sends their status (the log drops it as a
 * duplicate when it is one: correction ids are deterministic).
 */
export const MAX_KNOWN_AGENTS = 200_000;
/** Events per append while a resync streams its corrections; each waits for the one before. */
export const RESYNC_BATCH_EVENTS = 1000;

/**
 * A connection out to a PBX that keeps itself connected and appends what the PBX says.
 *
 * Connecting, the handshake and the protocol are the subclass's; this class owns the socket's
 * life: a connect timeout, reconnects with capped, jittered exponential backoff (reset only once
 * a session has lasted `reconnectMaxMs`, so neither a wrong password nor a PBX that drops every
 * session after the handshake makes it reconnect faster), readiness, metrics, one `source.gap`
 * per outage (see gap), and the append path. Events get the source's name and scope and go
 * through the hub's door for the events it makes (src/log/hub-events.ts): intake's catalogue
 * check, then the hub's single appender, in order (Redis or the spool). Nothing a PBX sends can
 * throw out of here: one source down or misbehaving never affects the hub or another source.
 */
export abstract class PbxSource {
  protected socket: Socket | undefined;
  protected readonly logger: Logger;
  /** Last status known per agent, from events and resyncs: resyncs correct only what differs. Least recently changed first. */
  private readonly knownStatus = new Map<string, AgentStatus>();
  private state: 'idle' | 'connecting' | 'handshake' | 'connected' | 'waiting' | 'closed' = 'idle';
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private reconnects = 0;
  private lastError: string | undefined;
  private lastEventAt: number | undefined;
  private connectedOnce = false;
  private sessionStartedAt: number | undefined;
  /** A `source.gap` is written and no `source.resynced` has followed it yet. */
  private gapOpen = false;
  protected disconnectedAt: number | undefined;
  private appendsInFlight = 0;
  /** Events mapped from the chunk being read, appended together once it is parsed. */
  private outbox: SourceEvent[] | undefined;
  private paused = false;
  private idleWaiters: (() => void)[] = [];
  /** Timers of events due later (emitAt): cleared by close(). */
  private readonly dueTimers = new Set<NodeJS.Timeout>();

  protected constructor(
    readonly kind: 'freeswitch' | 'asterisk',
    protected readonly config: SourceConnectionConfig,
    protected readonly deps: SourceDependencies,
  ) {
    this.logger = deps.logger.child({ source: config.name, pbx: kind });
    this.backoff = new Backoff({ initialMs: config.reconnectInitialMs, maxMs: config.reconnectMaxMs });
    // Every series exists from the start, so a dashboard shows 0 rather than nothing.
    const labels = { source: config.name };
    const { connected, ...counters } = deps.metrics;
    for (const counter of Object.values(counters)) counter.inc(labels, 0);
    connected.set(labels, 0);
  }

  get name(): string {
    return this.config.name;
  }

  /** Starts connecting in the background; never throws and never waits for the PBX. */
  start(): void {
    if (this.state !== 'idle') return;
    this.connect();
  }

  async close(): Promise<void> {
    this.state = 'closed';
    clearTimeout(this.reconnectTimer);
    for (const timer of this.dueTimers) clearTimeout(timer);
    this.dueTimers.clear();
    this.socket?.destroy();
    this.deps.metrics.connected.set({ source: this.name }, 0);
    // Appends already handed to the appender settle there (the hub drains it on shutdown).
    if (this.appendsInFlight > 0) await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  readiness(): ReadinessReport {
    const connected = this.state === 'connected';
    const report: ReadinessReport = {
      name: `source:${this.name}`,
      // A PBX being down is the PBX's problem: it must not take the hub (and every other source) out of service.
      ok: true,
      type: this.kind,
      connected,
      state: this.state,
      lastEventAgeMs: this.lastEventAt === undefined ? null : Date.now() - this.lastEventAt,
      reconnects: this.reconnects,
    };
    if (!connected && this.state !== 'closed') {
      report.warning = `source ${this.name} (${this.kind} ${this.config.host}:${this.config.port}) is not connected${this.lastError ? `: ${this.lastError}` : ''}`;
    }
    if (this.lastError) report.lastError = this.lastError;
    return report;
  }

  /** Called for every chunk read from the socket; may throw (the connection is then dropped). */
  protected abstract onData(chunk: Buffer): void;
  /** A new socket connected: start the handshake. */
  protected abstract onConnected(): void;
  /** The socket is gone: forget per-connection protocol state. */
  protected abstract onDisconnected(): void;

  /** The handshake succeeded: the source is live. `resumed` tells a reconnect from the first connection. */
  protected handshakeDone(): { resumed: boolean } {
    this.state = 'connected';
    this.sessionStartedAt = Date.now();
    this.lastError = undefined;
    this.deps.metrics.connected.set({ source: this.name }, 1);
    const resumed = this.connectedOnce;
    this.connectedOnce = true;
    this.logger.info({ host: this.config.host, port: this.config.port }, resumed ? 'source reconnected' : 'source connected');
    return { resumed };
  }

  /**
   * Writes a `source.gap` (`id` the subclass's, deterministic where it can be), counted, unless
   * one is already open: later gaps belong to the same outage until a `source.resynced` is
   * appended, so a PBX that drops every session right after the handshake, or a burst of
   * sequence jumps, makes one gap, not one each.
   */
  protected gap(id: string, details: Record<string, unknown>): void {
    if (this.gapOpen) return;
    this.gapOpen = true;
    this.deps.metrics.gaps.inc({ source: this.name });
    this.emit([{ id, type: 'source.gap', time: new Date().toISOString(), data: { source: this.name, kind: this.kind, ...details } }]);
  }

  /**
   * Emits what `produce` returns at `atMs` (the PBX's clock, as its event times): for what a PBX
   * does at a known time without announcing it, such as the end of an agent's wrap-up time.
   * `publish` replaces the plain emit for a source that remembers what it said.
   */
  protected emitAt(atMs: number, produce: () => SourceEvent[], publish: (events: SourceEvent[]) => void = (events) => this.emit(events)): void {
    const timer = setTimeout(() => {
      this.dueTimers.delete(timer);
      const events = produce();
      if (events.length > 0) publish(events);
    }, Math.max(0, atMs - Date.now()));
    timer.unref();
    this.dueTimers.add(timer);
  }

  /** The status last known for `agent`, if still remembered. */
  protected knownStatusOf(agent: string): AgentStatus | undefined {
    return this.knownStatus.get(agent);
  }

  /** Remembers `agent`'s status as most recently changed, forgetting the least recent beyond MAX_KNOWN_AGENTS. */
  protected rememberStatus(agent: string, status: AgentStatus): void {
    rememberRecent(this.knownStatus, agent, status, MAX_KNOWN_AGENTS);
  }

  /** Drops the connection for `reason` (logged once per distinct reason) and reconnects after a backoff. */
  protected fail(reason: string, error?: unknown): void {
    if (reason !== this.lastError) this.logger.warn({ err: error }, `source connection failed: ${reason}`);
    this.lastError = reason;
    this.socket?.destroy();
  }

  protected write(text: string): void {
    if (!this.socket) return;
    this.deps.tap?.sent(text);
    this.socket.write(text);
  }

  protected noteEvent(): void {
    this.lastEventAt = Date.now();
    this.deps.metrics.eventsIn.inc({ source: this.name });
  }

  /**
   * Validates, stamps and appends mapped events, in order. Invalid ones are counted and logged
   * (without the PBX's data) and the rest still go.
   */
  protected emit(events: SourceEvent[]): void {
    if (this.outbox) {
      this.outbox.push(...events);
      return;
    }
    void this.append(events);
  }

  /**
   * Like `emit`, and resolves once the appender has settled the events (durable or failed): a
   * long run of events (a resync's corrections) goes in batches, each waiting for the one before,
   * so it never sits in memory whole nor queues ahead of intake all at once.
   */
  protected emitSettled(events: SourceEvent[]): Promise<void> {
    if (this.outbox) {
      this.outbox.push(...events);
      return Promise.resolve();
    }
    return this.append(events);
  }

  /** `emitSettled` in batches of RESYNC_BATCH_EVENTS, each after the one before has settled. */
  protected async emitInBatches(events: SourceEvent[]): Promise<void> {
    for (let start = 0; start < events.length; start += RESYNC_BATCH_EVENTS) {
      await this.emitSettled(events.slice(start, start + RESYNC_BATCH_EVENTS));
    }
  }

  private append(events: SourceEvent[]): Promise<void> {
    const scope = this.config.scope ? { ...this.config.scope } : undefined;
    const drafts = events.map((mapped) => ({ ...mapped, source: this.name, scope }));
    const accepted = this.deps.hubEvents.makeAll(drafts, (draft, problems) => {
      this.deps.metrics.invalidEvents.inc({ source: this.name });
      this.logger.warn({ type: draft.type, id: draft.id, problems }, 'mapped event refused by the catalogue; skipped');
    });
    if (accepted.some((event) => event.type === 'source.resynced')) this.gapOpen = false;
    if (accepted.length === 0) return Promise.resolve();
    this.appendsInFlight += 1;
    if (this.appendsInFlight >= MAX_APPENDS_IN_FLIGHT && !this.paused) {
      this.paused = true;
      this.socket?.pause();
    }
    return this.deps.hubEvents.append(accepted).then(
      () => this.settled(),
      (error: unknown) => {
        this.deps.metrics.appendFailures.inc({ source: this.name }, accepted.length);
        this.logger.error({ err: error, events: accepted.length }, 'could not make source events durable; a resync will follow');
        this.settled();
        this.appendFailed();
      },
    );
  }

  /** Events could not be made durable: the subclass schedules a resync to recover the state. */
  protected abstract appendFailed(): void;

  private settled(): void {
    this.appendsInFlight -= 1;
    if (this.paused && this.appendsInFlight < MAX_APPENDS_IN_FLIGHT / 2) {
      this.paused = false;
      this.socket?.resume();
    }
    if (this.appendsInFlight === 0) for (const wake of this.idleWaiters.splice(0)) wake();
  }

  private connect(): void {
    if (this.state === 'closed') return;
    this.state = 'connecting';
    const socket = connect({ host: this.config.host, port: this.config.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 30_000);
    const connectTimer = setTimeout(() => {
      this.lastError = `no connection within ${this.config.connectTimeoutMs} ms`;
      socket.destroy();
    }, this.config.connectTimeoutMs);
    socket.once('connect', () => {
      clearTimeout(connectTimer);
      this.state = 'handshake';
      this.deps.tap?.connected();
      this.safely(() => this.onConnected());
    });
    socket.on('data', (chunk: Buffer) => {
      // Everything one chunk carries is appended as one batch, in order.
      this.deps.tap?.received(chunk);
      this.outbox = [];
      this.safely(() => this.onData(chunk));
      const events = this.outbox;
      this.outbox = undefined;
      if (events.length > 0) this.append(events);
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ECONNREFUSED' ? 'connection refused' : describeError(error);
      if (reason !== this.lastError) this.logger.warn({ code: error.code }, `source connection error: ${reason}`);
      this.lastError = reason;
    });
    socket.once('close', () => {
      clearTimeout(connectTimer);
      if (this.socket === socket) this.socket = undefined;
      if (this.state !== 'connecting') this.deps.tap?.closed();
      const wasConnected = this.state === 'connected';
      if (wasConnected) {
        this.disconnectedAt = Date.now();
        // Only a session that lasted resets the backoff: one dropped at once is part of the outage.
        if (this.disconnectedAt - (this.sessionStartedAt ?? this.disconnectedAt) >= this.config.reconnectMaxMs) this.backoff.reset();
      }
      this.deps.metrics.connected.set({ source: this.name }, 0);
      this.safely(() => this.onDisconnected());
      if (this.paused) this.paused = false;
      if (this.state === 'closed') return;
      this.state = 'waiting';
      if (wasConnected && !this.lastError) this.lastError = 'connection closed by the PBX';
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnects += 1;
      this.deps.metrics.reconnects.inc({ source: this.name });
      this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** Runs protocol code so that nothing a PBX sends can crash the hub: an exception drops the connection. */
  private safely(work: () => void): void {
    try {
      work();
    } catch (error) {
      this.deps.metrics.parseErrors.inc({ source: this.name });
      this.fail(`protocol error: ${describeError(error)}`, error);
    }
  }
}

/** Seconds since the epoch (FreeSWITCH `*_epoch`, mod_callcenter times) → ISO time; undefined for 0 or junk. */
export function epochSecondsToIso(value: string | undefined): string | undefined {
  if (value === undefined || !/^\d+(\.\d+)?$/.test(value)) return undefined;
  const seconds = Number(value);
  return seconds > 0 ? new Date(seconds * 1000).toISOString() : undefined;
}

/** A non-negative integer from a PBX header, or undefined. */
export function nonNegativeInt(value: string | undefined): number | undefined {
  if (value === undefined || !/^\d{1,12}$/.test(value)) return undefined;
  return Number(value);
}

/**
 * Sets `key` as the most recent entry of an insertion-ordered map, forgetting the least recent
 * past `max`: the bound every per-PBX memory of calls, members and statuses keeps.
 */
export function rememberRecent<K, V>(map: Map<K, V>, key: K, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  if (map.size > max) map.delete(map.keys().next().value as K);
}

/** Drops undefined and empty-string fields, so optional catalogue fields are absent rather than "". */
export function compact(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(data)) {
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}
