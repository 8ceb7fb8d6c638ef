import type { AppendTransport } from '../../../src/log/appender.js';
import type { Acceptance, Fence } from '../../../src/log/event-log.js';

/**
 * What the next call meets:
 * - `refuse`: rejected before Redis ran it (a node that is down, a closed socket): nothing written;
 * - `lose-reply`: Redis ran it, the reply was lost (a dropped socket): written, yet the caller sees an error;
 * - `stall`: Redis stops answering (SIGSTOP, a long fork): this call and every later one wait for `resume()`.
 */
export type TransportFault = 'refuse' | 'lose-reply' | 'stall';

/** An entry of the in-memory log, as appendEvents.lua would have written it. */
export interface StoredEntry {
  entryId: string;
  id: string;
  type: string;
  json: string;
  token: string;
}

interface HeldCall {
  acceptances: readonly Acceptance[];
  fence: Fence;
  loseReply: boolean;
  resolve: (entryIds: (string | null)[]) => void;
  reject: (error: Error) => void;
}

/**
 * An in-memory stand-in for the appender's Redis connection and src/redis/lua/appendEvents.lua:
 * the same dedup (first token wins, a repeat answers null), the same fence (a batch whose
 * predecessor on the chain did not land whole is refused with nothing written), calls run in the
 * order they were sent (one connection), replies come back asynchronously. Faults are injected on
 * command (`failNext`, `stall`, `setReady`), so property tests can drive the appender through
 * failures in milliseconds; the real script stays covered by test/event-log.test.ts and
 * test/faults.test.ts against redis-server.
 */
export class MemoryAppendTransport implements AppendTransport {
  readonly log: StoredEntry[] = [];
  /** Replicas that acknowledge a write (WAIT's answer, capped at what is asked for). */
  replicas = 0;
  /** Calls received, faulted or not. */
  calls = 0;
  private readonly dedup = new Map<string, string>();
  private readonly fences = new Map<string, string>();
  private readonly listeners = new Set<() => void>();
  private readonly faults: TransportFault[] = [];
  private readonly held: HeldCall[] = [];
  private stalled = false;
  private ready = true;
  private entrySeq = 0;

  get isReady(): boolean {
    return this.ready;
  }

  onReady(listener: () => void): void {
    this.listeners.add(listener);
  }

  offReady(listener: () => void): void {
    this.listeners.delete(listener);
  }

  /** Down: calls are refused at once (the log connection queues nothing offline). Up again: 'ready' is emitted. */
  setReady(ready: boolean): void {
    const wasReady = this.ready;
    this.ready = ready;
    if (ready && !wasReady) for (const listener of [...this.listeners]) listener();
  }

  /** The next calls meet these faults, one each, in order. */
  failNext(...faults: TransportFault[]): void {
    this.faults.push(...faults);
  }

  /** Every fault over: up, answering, nothing more injected. */
  heal(): void {
    this.faults.length = 0;
    this.setReady(true);
    this.resume();
  }

  /** Redis answers again: the held calls run in the order they were sent. */
  resume(): void {
    this.stalled = false;
    for (const call of this.held.splice(0)) this.run(call);
  }

  get heldCalls(): number {
    return this.held.length;
  }

  append(acceptances: readonly Acceptance[], fence: Fence): Promise<(string | null)[]> {
    return this.call(acceptances, fence);
  }

  async appendThenWait(acceptances: readonly Acceptance[], fence: Fence, replicas: number): Promise<{ entryIds: (string | null)[]; replicasAcked: number }> {
    const replicasAcked = Math.min(replicas, this.replicas);
    return { entryIds: await this.call(acceptances, fence), replicasAcked };
  }

  /** The ids in the log, in log order. */
  get ids(): string[] {
    return this.log.map((entry) => entry.id);
  }

  private call(acceptances: readonly Acceptance[], fence: Fence): Promise<(string | null)[]> {
    this.calls += 1;
    if (!this.ready) return Promise.reject(new Error('The client is closed'));
    const fault = this.faults.shift();
    if (fault === 'refuse') return Promise.reject(new Error('injected: connection refused'));
    if (fault === 'stall') this.stalled = true;
    return new Promise((resolve, reject) => {
      const call = { acceptances, fence, loseReply: fault === 'lose-reply', resolve, reject };
      if (this.stalled) this.held.push(call);
      else this.run(call);
    });
  }

  /** What appendEvents.lua does with one call, then the reply on a later turn of the event loop. */
  private run(call: HeldCall): void {
    const outcome = this.script(call.acceptances, call.fence);
    setImmediate(() => {
      if (call.loseReply) call.reject(new Error('injected: socket closed before the reply'));
      else if (outcome instanceof Error) call.reject(outcome);
      else call.resolve(outcome);
    });
  }

  private script(acceptances: readonly Acceptance[], fence: Fence): (string | null)[] | Error {
    if (fence.previous !== '' && this.fences.get(fence.key) !== fence.previous) {
      return new Error(`FENCED batch ${fence.previous} did not land; nothing written`);
    }
    const entryIds = acceptances.map(({ id, type, json, token }) => {
      if (this.dedup.has(id)) return null;
      this.dedup.set(id, token);
      const entryId = `${++this.entrySeq}-0`;
      this.log.push({ entryId, id, type, json, token });
      return entryId;
    });
    this.fences.set(fence.key, fence.id);
    return entryIds;
  }
}
