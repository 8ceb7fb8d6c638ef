import { Counter, Gauge, type Registry } from 'prom-client';

/** Per-source counters on the hub's registry, labelled by the source's name. */
export function createSourceMetrics(registry: Registry) {
  const registers = [registry];
  const labelNames = ['source'] as const;
  return {
    eventsIn: new Counter({ name: 'switchboard_source_events_in_total', help: 'PBX events received', labelNames, registers }),
    eventsMapped: new Counter({
      name: 'switchboard_source_events_mapped_total',
      help: 'PBX events turned into at least one catalogue event',
      labelNames,
      registers,
    }),
    eventsIgnored: new Counter({
      name: 'switchboard_source_events_ignored_total',
      help: 'PBX events with no catalogue counterpart (other actions, agent legs, unchanged statuses)',
      labelNames,
      registers,
    }),
    parseErrors: new Counter({
      name: 'switchboard_source_parse_errors_total',
      help: 'Malformed PBX frames or events, skipped (a framing error also drops the connection)',
      labelNames,
      registers,
    }),
    invalidEvents: new Counter({
      name: 'switchboard_source_invalid_events_total',
      help: 'Mapped events the catalogue refused (e.g. a value over its length limit), not appended',
      labelNames,
      registers,
    }),
    appendFailures: new Counter({
      name: 'switchboard_source_append_failures_total',
      help: 'Mapped events that could not be made durable (spool full or failing)',
      labelNames,
      registers,
    }),
    gaps: new Counter({
      name: 'switchboard_source_gaps_total',
      help: 'Times the hub may have missed PBX events (sequence jump, PBX restart, reconnect)',
      labelNames,
      registers,
    }),
    resyncs: new Counter({ name: 'switchboard_source_resyncs_total', help: 'State resyncs run against the PBX', labelNames, registers }),
    reconnects: new Counter({
      name: 'switchboard_source_reconnects_total',
      help: 'Connection attempts after the first (the PBX was unreachable, refused us or dropped the connection)',
      labelNames,
      registers,
    }),
    connected: new Gauge({
      name: 'switchboard_source_connected',
      help: '1 while the source is connected and authenticated',
      labelNames,
      registers,
    }),
  };
}

export type SourceMetrics = ReturnType<typeof createSourceMetrics>;
