import { Counter, Gauge, type Registry } from 'prom-client';

export interface StreamMetrics {
  clients: Gauge;
  disconnects: Counter<'reason'>;
}

export function createStreamMetrics(registry: Registry): StreamMetrics {
  return {
    clients: new Gauge({ name: 'switchboard_stream_clients', help: 'Open GET /v1/stream connections', registers: [registry] }),
    disconnects: new Counter({
      name: 'switchboard_stream_disconnects_total',
      help: 'Closed event streams by reason (client_gone, slow_client, shutting_down)',
      labelNames: ['reason'],
      registers: [registry],
    }),
  };
}
