import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { openStream, type SseConnection } from './helpers/sse.js';
import { startClusterTopology, type ClusterTopology } from './helpers/topologies.js';
import { waitFor } from './helpers/wait.js';

/** The log reader, the event stream and the live projection on a 3-master Redis Cluster, with two hubs. */
describe('event stream and live state on Redis Cluster', () => {
  let cluster: ClusterTopology;
  let hubA: Hub;
  let hubB: Hub;
  const streams: SseConnection[] = [];

  beforeAll(async () => {
    cluster = await startClusterTopology({ masters: 3 });
    const overrides = { redis: { url: undefined, cluster: { nodes: cluster.nodeList.split(',') } }, webhooks: { enabled: false } };
    [hubA, hubB] = await Promise.all([startHub('', overrides), startHub('', overrides)]);
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await Promise.all([hubA?.close(), hubB?.close()]);
    await cluster?.close();
  });

  it('streams events accepted by another hub, resumes exactly, and both hubs project the same state', async () => {
    const live = async (hub: Hub) => {
      let body: Record<string, unknown> | undefined;
      await waitFor(async () => {
        const answer = await api(hub.url, 'GET', '/v1/live/queues');
        body = answer.body;
        return answer.status === 200;
      });
      return body as { position: string; totals: { offered: number; waiting: number } };
    };
    const start = (await live(hubA)).position;
    const stream = await openStream(hubA.url, { query: { after: start } });
    streams.push(stream);
    const events = Array.from({ length: 30 }, (_, i) => ({ id: `cl-${i}`, type: 'call.queued', data: { call_id: `cl-call-${i}`, queue: 'sales' } }));
    expect((await postEvents(hubB.url, events)).status).toBe(202);
    await stream.waitFor(() => stream.events().length >= 30);
    expect(stream.events().map((message) => JSON.parse(message.data).id)).toEqual(events.map((event) => event.id));

    const resumed = await openStream(hubB.url, { lastEventId: stream.events()[9]?.id as string });
    streams.push(resumed);
    await resumed.waitFor(() => resumed.events().length >= 20);
    expect(resumed.events().map((message) => JSON.parse(message.data).id)).toEqual(events.slice(10).map((event) => event.id));

    for (const hub of [hubA, hubB]) await waitFor(async () => (await live(hub)).totals.offered === 30, 20_000, 'the projection on each hub');
    const [a, b] = await Promise.all([live(hubA), live(hubB)]);
    expect(a.position).toBe(b.position);
    expect(a.totals).toEqual(b.totals);
    expect(a.totals.waiting).toBe(30);
  });
});
