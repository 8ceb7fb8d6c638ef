import { Counter, Gauge, type Registry } from 'prom-client';
import type { LiveEntityKind, LiveProjection } from './projection.js';

export interface LiveMetrics {
  dropped: Counter<'kind'>;
}

/** The live state's size and its overflows (`live.maxAgents`, `live.maxQueues`, `live.maxCalls`). */
export function createLiveMetrics(registry: Registry, projection: () => LiveProjection): LiveMetrics {
  const sizes: Record<LiveEntityKind, () => number> = {
    agent: () => projection().agents.size,
    queue: () => projection().queues.size,
    call: () => projection().callCount,
  };
  new Gauge({
    name: 'switchboard_live_entities',
    help: 'Agents, queues and calls held in the live state, by kind',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      for (const [kind, size] of Object.entries(sizes)) this.set({ kind }, size());
    },
  });
  return {
    dropped: new Counter({
      name: 'switchboard_live_dropped_total',
      help: 'Live entities dropped because their live.max* bound was reached (the least recently active first), by kind',
      labelNames: ['kind'],
      registers: [registry],
    }),
  };
}
