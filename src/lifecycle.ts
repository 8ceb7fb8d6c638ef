import type { Logger } from 'pino';

/**
 * One step of the hub's start, as the lifecycle undoes it. A HubComponent is one (src/context.ts);
 * so are the hub's own parts (Redis clients, spool, appender, the log feed, the HTTP server).
 */
export interface LifecycleStep {
  name: string;
  /** Phase 1: stop taking input (the HTTP server, PBX sources). */
  stopInput?(): Promise<unknown> | unknown;
  /** Phase 2: finish the work already taken, within `budgetMs` (0 on a failed start: nothing waits). */
  drain?(budgetMs: number): Promise<unknown> | unknown;
  /** Phase 3: stop background work and release connections, timers, files and child processes. */
  close?(): Promise<unknown> | unknown;
}

const PHASES = ['stopInput', 'drain', 'close'] as const;

/**
 * The hub's one list of what to undo, as avvio keeps it for Fastify: every start step registers
 * itself once, right after it succeeded, and both a failed start (rollback) and shutdown run the
 * same list, newest first, phase by phase (stop input → drain → close). A step that fails is
 * logged and the others still run: an undo never leaves the rest open.
 */
export class Lifecycle {
  private readonly steps: LifecycleStep[] = [];
  private ended: Promise<void> | undefined;

  constructor(private readonly logger: Logger) {}

  /** Registers a step that started (or was built); returns it. Too late once the lifecycle ended. */
  add<T extends LifecycleStep>(step: T): T {
    if (this.ended) throw new Error(`lifecycle: "${step.name}" registered after the hub closed`);
    this.steps.push(step);
    return step;
  }

  /** The steps' names in the order they would be undone. */
  get undoOrder(): string[] {
    return this.steps.map((step) => step.name).reverse();
  }

  /** Runs every registered step's phases, newest step first; once (later calls wait for the first). */
  end(drainBudgetMs: number): Promise<void> {
    this.ended ??= this.run(drainBudgetMs);
    return this.ended;
  }

  private async run(drainBudgetMs: number): Promise<void> {
    const steps = [...this.steps].reverse();
    for (const phase of PHASES) {
      for (const step of steps) {
        const action = step[phase];
        if (!action) continue;
        try {
          this.logger.debug({ step: step.name, phase }, 'lifecycle step');
          await action.call(step, drainBudgetMs);
        } catch (error) {
          this.logger.warn({ err: error, step: step.name, phase }, 'lifecycle step failed; the others still run');
        }
      }
    }
  }
}
