/**
 * One call record per call, whatever the PBX: the legs of a call (the caller's channel, each agent
 * leg, the halves of a local channel…) are collected under the call's root id, and the call is
 * handed over once, when its last known leg has ended and a settle window has passed without a
 * new leg. The window catches the legs the PBX announces only as they end (a leg whose start was
 * never seen is known from its end alone). The rules are in docs/sources.md ("One record per
 * call").
 *
 * Generic on purpose: the PBX's leg facts are opaque here, and merging them into a record is the
 * source's own business (its flush callback). Memory is bounded: past `maxCalls` calls in
 * progress, the oldest is handed over with the legs it has; and a leg whose end was lost (the
 * PBX connection dropped meanwhile) holds its call at most `maxOpenMs` after a leg last ended.
 */

/** Calls whose legs are collected at once; past this the oldest call's record is written early. */
export const MAX_CALLS_IN_PROGRESS = 50_000;
/**
 * A leg whose hangup was lost (the connection dropped meanwhile) holds its call's record this long
 * after the call's last hangup. Longer than any leg outlives the others in practice (a caller sent
 * on to a survey after the agent hung up).
 */
export const MAX_OPEN_AFTER_HANGUP_MS = 3_600_000;

export interface CallRecordsOptions<Facts> {
  /** Quiet time after the last leg ended before the call is handed over. */
  settleMs: number;
  /** Calls held at once; the oldest is flushed early past this. */
  maxCalls: number;
  /** A call is handed over at most this long after a leg of it last ended, legs still open or not. */
  maxOpenMs: number;
  /** Receives each call once: its root id and its ended legs, in the order they ended. */
  flush: (root: string, legs: Facts[]) => void;
}

interface PendingCall<Facts> {
  /** Legs started and not ended yet. */
  open: Set<string>;
  /** Ended legs by id (a repeated end replaces the facts, it adds no leg). */
  ended: Map<string, Facts>;
  /** When the call is handed over, once no leg is open. */
  dueAt: number | undefined;
  /** When a leg last ended: `maxOpenMs` later the call is handed over whatever is open. */
  lastEndAt: number | undefined;
}

/** How often calls held by a lost leg are looked for, at most. */
const SWEEP_EVERY_MS = 60_000;

export class CallRecords<Facts> {
  private readonly calls = new Map<string, PendingCall<Facts>>();
  /** Calls waiting for their settle window, in the order they became due (the window is constant, so the order is by time). */
  private readonly settling: { root: string; at: number }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private timerAt = 0;
  /** Runs while a call has an ended leg and an open one: looks for legs whose end was lost. */
  private sweeper: NodeJS.Timeout | undefined;

  constructor(private readonly options: CallRecordsOptions<Facts>) {}

  /** A leg of `root` began: the call is not over before this leg ends. */
  legStarted(root: string, legId: string): void {
    const call = this.call(root);
    if (call.ended.has(legId)) return;
    call.open.add(legId);
    call.dueAt = undefined;
  }

  /** A leg of `root` ended with `facts`; when no leg is left open, the settle window starts again. */
  legEnded(root: string, legId: string, facts: Facts): void {
    const call = this.call(root);
    call.open.delete(legId);
    call.ended.set(legId, facts);
    call.lastEndAt = Date.now();
    if (call.open.size > 0) {
      this.sweepLater();
      return;
    }
    call.dueAt = call.lastEndAt + this.options.settleMs;
    this.settling.push({ root, at: call.dueAt });
    this.arm();
  }

  /** Hands over every call now, with the legs it has (the PBX restarted, or the source closes). */
  flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.settling.length = 0;
    for (const root of [...this.calls.keys()]) this.hand(root);
  }

  /** Calls in progress or settling. */
  get size(): number {
    return this.calls.size;
  }

  private call(root: string): PendingCall<Facts> {
    let call = this.calls.get(root);
    if (!call) {
      call = { open: new Set(), ended: new Map(), dueAt: undefined, lastEndAt: undefined };
      this.calls.set(root, call);
      if (this.calls.size > this.options.maxCalls) this.hand(this.calls.keys().next().value as string);
    }
    return call;
  }

  private hand(root: string): void {
    const call = this.calls.get(root);
    if (!call) return;
    this.calls.delete(root);
    if (call.ended.size > 0) this.options.flush(root, [...call.ended.values()]);
  }

  private arm(): void {
    const next = this.settling[0]?.at;
    // Entries join the queue in time order: the timer set for the earliest one usually stands.
    if (next === undefined || (this.timer && this.timerAt <= next)) return;
    clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.flushDue(), Math.max(0, next - Date.now()));
    // Settling calls never keep the process alive: a closing source flushes them itself.
    this.timer.unref();
  }

  private flushDue(): void {
    this.timer = undefined;
    const now = Date.now();
    while (this.settling.length > 0 && this.settling[0]!.at <= now) {
      const { root, at } = this.settling.shift()!;
      // A leg that started or ended since made this entry stale: the call's current entry decides.
      if (this.calls.get(root)?.dueAt === at) this.hand(root);
    }
    this.arm();
  }

  private sweepLater(): void {
    if (this.sweeper) return;
    this.sweeper = setInterval(() => this.sweep(), Math.min(this.options.maxOpenMs, SWEEP_EVERY_MS));
    this.sweeper.unref();
  }

  /** Hands over the calls a leg has held open `maxOpenMs` since their last hangup; stops once none is held so. */
  private sweep(): void {
    const now = Date.now();
    let held = 0;
    for (const [root, call] of this.calls) {
      if (call.open.size === 0 || call.lastEndAt === undefined) continue;
      if (now - call.lastEndAt >= this.options.maxOpenMs) this.hand(root);
      else held += 1;
    }
    if (held === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** What a protocol's mapper needs to report legs as it hears them start and end. */
export type LegTracker<Facts> = Pick<CallRecords<Facts>, 'legStarted' | 'legEnded'>;
