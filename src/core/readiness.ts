/**
 * A component's view of readiness: a failed check makes /readyz 503, a warning does not
 * (src/server/health.ts serves them). Here, below every layer, so that any layer, Redis's
 * included (src/redis/faults.ts), can report one.
 */
export interface ReadinessReport {
  name: string;
  ok: boolean;
  message?: string;
  warning?: string;
  [detail: string]: unknown;
}
export type ReadinessCheck = () => Promise<ReadinessReport> | ReadinessReport;
