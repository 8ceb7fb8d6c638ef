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
  /** When the call is handed over whatever is open: `maxOpenMs` after a leg last ended. */
  deadline: number | undefined;
}

/** Calls due at a time; each queue's delay is constant, so entries are pushed in time order. */
type DueQueue = { root: string; at: number }[];

export class CallRecords<Facts> {
  private readonly calls = new Map<string, PendingCall<Facts>>();
  /** Calls waiting for their settle window. */
  private readonly settling: DueQueue = [];
  /** Calls waiting for their `maxOpenMs` deadline. */
  private readonly deadlines: DueQueue = [];
  private timer: NodeJS.Timeout | undefined;

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
    const now = Date.now();
    call.deadline = now + this.options.maxOpenMs;
    this.deadlines.push({ root, at: call.deadline });
    if (call.open.size === 0) {
      call.dueAt = now + this.options.settleMs;
      this.settling.push({ root, at: call.dueAt });
    }
    this.arm();
  }

  /** Hands over every call now, with the legs it has (the PBX restarted, or the source closes). */
  flushAll(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.settling.length = 0;
    this.deadlines.length = 0;
    for (const root of [...this.calls.keys()]) this.hand(root);
  }

  /** Calls in progress or settling. */
  get size(): number {
    return this.calls.size;
  }

  private call(root: string): PendingCall<Facts> {
    let call = this.calls.get(root);
    if (!call) {
      call = { open: new Set(), ended: new Map(), dueAt: undefined, deadline: undefined };
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
    clearTimeout(this.timer);
    this.timer = undefined;
    const next = Math.min(this.settling[0]?.at ?? Infinity, this.deadlines[0]?.at ?? Infinity);
    if (next === Infinity) return;
    this.timer = setTimeout(() => this.flushDue(), Math.max(0, next - Date.now()));
    // Settling calls never keep the process alive: a closing source flushes them itself.
    this.timer.unref();
  }

  private flushDue(): void {
    const now = Date.now();
    // An entry made stale by a later leg (a new start, a later end) no longer matches its call.
    this.take(this.settling, now, (call, at) => call.dueAt === at);
    this.take(this.deadlines, now, (call, at) => call.deadline === at);
    this.arm();
  }

  private take(queue: DueQueue, now: number, current: (call: PendingCall<Facts>, at: number) => boolean): void {
    while (queue.length > 0 && queue[0]!.at <= now) {
      const { root, at } = queue.shift()!;
      const call = this.calls.get(root);
      if (call && current(call, at)) this.hand(root);
    }
  }
}
