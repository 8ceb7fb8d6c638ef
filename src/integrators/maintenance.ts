import { deadLetterGroup } from '@switchboard/client';
import type { Logger } from 'pino';
import type { IntegratorsConfig } from '../config/schema.js';
import type { RedisClient } from '../redis/client.js';
import type { Keys } from '../redis/keys.js';
import { scripts } from '../redis/scripts.js';
import type { ReadinessReport } from '../server/health.js';
import type { IntegratorRegistry } from './registry.js';
import { ThrottledWarnings } from '../warnings.js';

/** Entries the janitor drops per script call under the hard cap, so one call never stalls Redis. */
const MAX_DROPS_PER_CALL = 10_000;

export interface StreamState {
  length: number;
  /** Entries at or above the slowest group's floor (not acknowledged by every group). */
  backlog: number;
  alarm: boolean;
  listsOverAlarm: string[];
}

/**
 * Background upkeep of the integrators' stream, on every hub node (the scripts are atomic and
 * idempotent, so nodes running them at once do no harm and count nothing twice):
 * - the janitor trims acknowledged entries, keeps the replay window, alarms before the hard cap
 *   and counts what the cap drops (src/redis/lua/trimIntegratorStream.lua);
 * - the sweeper moves poison entries to dead-letter streams (packages/client/lua/deadLetter.lua,
 *   the same script the integrators' consumeCdrs runs before it claims).
 */
export class IntegratorMaintenance {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;
  readonly state: StreamState = { length: 0, backlog: 0, alarm: false, listsOverAlarm: [] };
  private readonly warnings: ThrottledWarnings;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: Keys,
    private readonly registry: IntegratorRegistry,
    private readonly config: IntegratorsConfig,
    private readonly logger: Logger,
  ) {
    this.warnings = new ThrottledWarnings(logger);
  }

  get alarmLength(): number {
    return Math.floor(this.config.maxLength * this.config.alarmRatio);
  }

  start(): void {
    this.every(this.config.trimIntervalMs, () => this.trim());
    this.every(this.config.sweepIntervalMs, () => this.sweep());
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }

  /**
   * One janitor pass over the shared stream and every scoped integrator's own stream; each
   * repeats while its hard cap still has entries to drop. The state sums the streams; the alarm
   * is raised when any one of them is above the alarm length.
   */
  async trim(now = Date.now()): Promise<void> {
    const scoped = (await this.registry.list()).flatMap((spec) => (spec.streamKey ? [spec.streamKey] : []));
    let length = 0;
    let backlog = 0;
    let alarm = false;
    for (const stream of [this.keys.cdrStream, ...scoped]) {
      const state = await this.trimStream(stream, now);
      length += state.length;
      backlog += state.backlog;
      alarm ||= state.backlog > this.alarmLength;
      if (this.closed) return;
    }
    this.state.length = length;
    this.state.backlog = backlog;
    this.setAlarm(alarm);
  }

  private async trimStream(stream: string, now: number): Promise<{ length: number; backlog: number }> {
    for (;;) {
      const [, length, backlog, losses] = (await scripts.trimIntegratorStream.run(
        this.client,
        [stream, this.keys.integratorCounters],
        [`${Math.max(0, now - this.config.replayRetentionMs)}-0`, String(this.alarmLength), String(this.config.maxLength), String(MAX_DROPS_PER_CALL)],
      )) as [number, number, number, (string | number)[]];
      // The counts themselves live in Redis (counters hash), so every node reports the same totals.
      for (let i = 0; i + 1 < losses.length; i += 2) {
        const integrator = String(losses[i]);
        const lost = Number(losses[i + 1]);
        this.logger.error({ integrator, lost, maxLength: this.config.maxLength }, 'integrator stream hit its hard cap: unacknowledged CDRs dropped');
      }
      if (length <= this.config.maxLength || this.closed) return { length, backlog };
    }
  }

  /** Dead-letters every group's poison entries; notes legacy lists above their alarm length. */
  async sweep(): Promise<void> {
    const specs = await this.registry.list();
    const overAlarm: string[] = [];
    for (const spec of specs) {
      if (spec.list && (await this.client.lLen(spec.list)) > this.config.listAlarmLength) overAlarm.push(spec.name);
      if (!spec.stream) continue;
      const moved = await deadLetterGroup(this.client, {
        stream: this.registry.streamOf(spec),
        deadLetter: this.keys.integratorDeadLetters(spec.name),
        counters: this.keys.integratorCounters,
        group: spec.name,
        claimIdleMs: this.config.claimIdleMs,
        maxDeliveries: this.config.maxDeliveries,
        deadLetterMaxLength: this.config.deadLetterMaxLength,
      });
      if (moved > 0) this.logger.warn({ integrator: spec.name, moved, maxDeliveries: this.config.maxDeliveries }, 'CDRs moved to the dead-letter stream');
    }
    this.state.listsOverAlarm = overAlarm;
  }

  readiness(): ReadinessReport {
    const warnings: string[] = [];
    if (this.state.alarm) {
      warnings.push(
        `integrator stream backlog ${this.state.backlog} is above ${this.alarmLength} (hard cap ${this.config.maxLength}): a slow integrator will lose CDRs at the cap`,
      );
    }
    if (this.state.listsOverAlarm.length > 0) {
      warnings.push(`legacy lists above ${this.config.listAlarmLength} entries: ${this.state.listsOverAlarm.join(', ')}`);
    }
    return {
      name: 'integrators',
      ok: true,
      streamLength: this.state.length,
      backlog: this.state.backlog,
      ...(warnings.length > 0 ? { warning: warnings.join('; ') } : {}),
    };
  }

  private setAlarm(alarm: boolean): void {
    if (alarm === this.state.alarm) return;
    this.state.alarm = alarm;
    if (alarm) this.logger.warn({ backlog: this.state.backlog, alarmLength: this.alarmLength, maxLength: this.config.maxLength }, 'integrator stream backlog alarm raised');
    else this.logger.info({ backlog: this.state.backlog }, 'integrator stream backlog alarm cleared');
  }

  /** Runs `task` every `ms`, never two at once, logging failures (Redis down) without stopping. */
  private every(ms: number, task: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy || this.closed || !this.client.isReady) return;
      busy = true;
      const run = task()
        .catch((error: unknown) => this.warnings.warn('integrator maintenance failed; retrying', error))
        .finally(() => {
          busy = false;
          this.running.delete(run);
        });
      this.running.add(run);
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }
}
