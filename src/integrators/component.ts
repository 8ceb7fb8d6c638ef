import { closeRedisClient } from '../redis/client.js';
import { Gauge } from 'prom-client';
import { withDeadline } from '../core/deadline.js';
import type { ComponentFactory, HubContext } from '../context.js';
import { EnigmaProfile } from '../profiles/enigma.js';
import { IntegratorsProfile } from './integrators-profile.js';
import { IntegratorMaintenance } from './maintenance.js';
import { UnreadableEntries } from '../log/reader.js';
import { IntegratorRegistry, type IntegratorLag } from './registry.js';
import { integratorRoutes } from './routes.js';

/**
 * Every integrator gets every CDR (docs/integrators.md): registry + API, the fan-out
 * profile of the append script, and the janitor/sweeper on a patient client of its own.
 */
export const integratorsComponent: ComponentFactory = (context: HubContext) => {
  const { keys, config, logger, metrics } = context;
  const unreadable = new UnreadableEntries('integrators', metrics.logEntriesUnreadable, logger.child({ component: 'integrators' }));
  const registry = new IntegratorRegistry(context.redis, keys, unreadable);

  const background = context.openRedis({ name: 'switchboard-integrators' });

  registerLagGauges(context, registry);
  const streamGauge = (name: string, help: string, value: () => number) =>
    new Gauge({ name, help, registers: [metrics.registry], collect() { this.set(value()); } });
  const maintenance = new IntegratorMaintenance(
    background,
    keys,
    new IntegratorRegistry(background, keys),
    config.integrators,
    logger.child({ component: 'integrators' }),
  );
  streamGauge('switchboard_integrators_stream_length', 'Entries in the integrators\' stream (as of the last janitor pass)', () => maintenance.state.length);
  streamGauge('switchboard_integrators_stream_backlog', 'Stream entries not yet acknowledged by every consumer group', () => maintenance.state.backlog);
  streamGauge('switchboard_integrators_stream_alarm', '1 while the backlog is above alarmRatio × maxLength (losses follow at maxLength)', () => (maintenance.state.alarm ? 1 : 0));
  return {
    name: 'integrators',
    profiles: [new IntegratorsProfile(keys, new EnigmaProfile(keys, config.profiles.enigma))],
    start: () => maintenance.start(),
    routes: integratorRoutes(registry),
    readiness: () => maintenance.readiness(),
    async close() {
      await maintenance.close();
      await closeRedisClient(background);
    },
  };
};

/** How long a scrape waits for the integrators' lag from Redis before it serves the last values. */
const LAG_SCRAPE_DEADLINE_MS = 500;

/** Per-integrator lag gauges, filled from Redis at scrape time so every hub node reports the same. */
function registerLagGauges(context: HubContext, registry: IntegratorRegistry): void {
  // Shared while in flight: one scrape starts every gauge's collect in the same tick.
  let inFlight: Promise<Map<string, IntegratorLag>> | undefined;
  // The last answer, served while Redis does not answer within the scrape deadline: /metrics
  // serves what it has rather than hang with Redis.
  let last = new Map<string, IntegratorLag>();
  const read = () =>
    (inFlight ??= withDeadline(
      registry
        .list()
        .then((specs) => registry.lag(specs))
        .then((lag) => (last = lag)),
      LAG_SCRAPE_DEADLINE_MS,
      'Redis',
    )
      .catch(() => last)
      .finally(() => {
        inFlight = undefined;
      }));
  const gauge = (name: string, help: string, value: (lag: IntegratorLag) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames: ['integrator'] as const,
      registers: [context.metrics.registry],
      async collect() {
        this.reset();
        const all = await read();
        for (const [integrator, lag] of all) {
          const current = value(lag);
          if (current !== null) this.set({ integrator }, current);
        }
      },
    });
  gauge('switchboard_integrator_pending', 'CDRs delivered to a worker and not acknowledged yet', (lag) => lag.pending);
  gauge('switchboard_integrator_oldest_pending_age_seconds', 'Age of the oldest pending CDR since it was accepted', (lag) =>
    lag.oldestPendingAgeMs === null ? 0 : lag.oldestPendingAgeMs / 1000,
  );
  gauge('switchboard_integrator_undelivered', 'CDRs in the stream not delivered to any worker of the integrator yet', (lag) => lag.undelivered);
  gauge('switchboard_integrator_dead_letters', 'CDRs moved to the integrator\'s dead-letter stream (cluster-wide count)', (lag) => lag.deadLetters);
  gauge('switchboard_integrator_lost', 'CDRs the hard cap dropped before the integrator acknowledged them (cluster-wide count)', (lag) => lag.lost);
  gauge('switchboard_integrator_list_length', 'Undelivered entries in the integrator\'s legacy list', (lag) => lag.listLength);
}
