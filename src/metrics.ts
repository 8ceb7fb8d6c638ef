import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

/**
 * One Prometheus registry per hub. Components add their own metrics to `registry`; the ones the
 * intake and the log share are created here.
 */
export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  const registers = [registry];
  return {
    registry,
    eventsAccepted: new Counter({
      name: 'switchboard_events_accepted_total',
      help: 'Events accepted by intake (durable in Redis or in the spool), by type',
      labelNames: ['type'] as const,
      registers,
    }),
    eventsDuplicate: new Counter({
      name: 'switchboard_events_duplicate_total',
      help: 'Events whose id was already seen inside the dedup window (accepted, not delivered again)',
      registers,
    }),
    eventsSpooled: new Counter({
      name: 'switchboard_events_spooled_total',
      help: 'Events written to the local spool because Redis was unreachable, failing or still draining',
      registers,
    }),
    eventsDrained: new Counter({
      name: 'switchboard_events_drained_total',
      help: 'Spooled events written to Redis after it came back',
      registers,
    }),
    intakeRejected: new Counter({
      name: 'switchboard_intake_rejected_total',
      help: 'Intake requests rejected, by error code',
      labelNames: ['code'] as const,
      registers,
    }),
    redisWriteFailures: new Counter({
      name: 'switchboard_redis_write_failures_total',
      help: 'Event-log writes that failed or timed out (their events went to the spool)',
      registers,
    }),
    replicaAckShortfalls: new Counter({
      name: 'switchboard_replica_ack_shortfalls_total',
      help: 'Event-log writes that fewer replicas than redis.minReplicasAcked confirmed in time (their events were spooled as well)',
      registers,
    }),
    spoolDepth: new Gauge({
      name: 'switchboard_spool_depth',
      help: 'Events in the local spool waiting for Redis',
      registers,
    }),
    logEntriesUnreadable: new Counter({
      name: 'switchboard_log_entries_unreadable_total',
      help: 'Event-log (or integrators\' stream) entries skipped because they hold no readable event, by reader (src/log/reader.ts)',
      labelNames: ['reader'] as const,
      registers,
    }),
    redisUp: new Gauge({
      name: 'switchboard_redis_up',
      help: '1 when the hub is connected to Redis',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
