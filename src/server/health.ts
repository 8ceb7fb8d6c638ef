import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';
import { DeadlineExceededError, withDeadline } from '../core/deadline.js';
import { describeError } from '../core/describe-error.js';
import type { ReadinessCheck, ReadinessReport } from '../core/readiness.js';

// Components import the readiness types from here, beside the route that serves them.
export type { ReadinessCheck, ReadinessReport };

export interface HealthOptions {
  checks: readonly ReadinessCheck[];
  registry: Registry;
}

export const healthRoutes: FastifyPluginAsync<HealthOptions> = async (app, { checks, registry }) => {
  app.get('/healthz', { schema: { summary: 'The process is alive', tags: ['operations'] } }, async () => ({ status: 'ok' }));

  const readyzDescription =
    '200 `{status: "ready"}` or 503 `{status: "not_ready", reasons}`; `warnings` never make it 503. ' +
    '`checks` holds every check: redis, spool (`depth`), integrators (`streamLength`, `backlog`: CDRs not yet acknowledged by every integrator), ' +
    'cti (`pools`), webhooks (`eligible`, `subscriptions`), live, sources. Every field: docs/operations.md.';
  app.get('/readyz', { schema: { summary: 'Redis reachable, spool depth, component warnings', description: readyzDescription, tags: ['operations'] } }, async (_request, reply) => {
    const reports = await Promise.all(checks.map((check) => withinDeadline(check)));
    const ready = reports.every((report) => report.ok);
    const reasons = reports.filter((report) => !report.ok).map((report) => report.message ?? report.name);
    const warnings = reports.flatMap((report) => (report.warning ? [report.warning] : []));
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      ...(reasons.length > 0 ? { reasons } : {}),
      ...(warnings.length > 0 ? { warnings } : {}),
      checks: reports,
    });
  });

  // Gauges read from Redis serve their last values when it does not answer (src/integrators/component.ts).
  app.get('/metrics', { schema: { summary: 'Prometheus metrics', tags: ['operations'] } }, async (_request, reply) =>
    reply.type(registry.contentType).send(await registry.metrics()),
  );
};

/** /readyz answers within a second, always: a check still waiting after this is reported failed. */
export const READINESS_DEADLINE_MS = 600;

async function withinDeadline(check: ReadinessCheck): Promise<ReadinessReport> {
  try {
    return await withDeadline(Promise.resolve().then(check), READINESS_DEADLINE_MS, 'check');
  } catch (error) {
    const message = error instanceof DeadlineExceededError ? `redis not answering (no answer within ${READINESS_DEADLINE_MS} ms)` : describeError(error);
    return { name: check.name || 'check', ok: false, message };
  }
}
