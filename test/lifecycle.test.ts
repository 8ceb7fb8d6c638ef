import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { ComponentFactory } from '../src/context.js';
import { pino } from 'pino';
import { Hub } from '../src/hub.js';
import { Lifecycle } from '../src/lifecycle.js';
import { liveComponent } from '../src/live/index.js';
import { listRelayComponent } from '../src/integrators/list-relay.js';
import { integratorsComponent } from '../src/integrators/component.js';
import { webhooksComponent } from '../src/webhooks/index.js';
import { postEvents, startChildHub, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api, cdrEvent } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { openStream } from './helpers/sse.js';
import { waitFor } from './helpers/wait.js';

/**
 * One lifecycle (src/lifecycle.ts): what a start opened, a failed start and a shutdown close, all
 * of it, newest first; and one follower of the event log per hub (context.feed), whatever reads it.
 */
describe('Lifecycle', () => {
  it('runs every step\'s phases newest first, phase by phase, once, and carries on past a step that throws', async () => {
    const calls: string[] = [];
    const lifecycle = new Lifecycle(pino({ level: 'silent' }));
    lifecycle.add({ name: 'redis', close: () => void calls.push('close redis') });
    lifecycle.add({ name: 'appender', drain: (budgetMs) => void calls.push(`drain appender ${budgetMs}`), close: () => void calls.push('close appender') });
    lifecycle.add({
      name: 'sources',
      stopInput: () => void calls.push('stop sources'),
      close: () => {
        calls.push('close sources');
        throw new Error('stuck');
      },
    });
    lifecycle.add({ name: 'http', stopInput: async () => void calls.push('stop http') });
    expect(lifecycle.undoOrder).toEqual(['http', 'sources', 'appender', 'redis']);

    await Promise.all([lifecycle.end(250), lifecycle.end(0)]);
    expect(calls).toEqual(['stop http', 'stop sources', 'drain appender 250', 'close sources', 'close appender', 'close redis']);
    await lifecycle.end(0);
    expect(calls).toHaveLength(6);
    expect(() => lifecycle.add({ name: 'late' })).toThrow('"late" registered after the hub closed');
  });
});

describe('the hub lifecycle', () => {
  let redis: TestRedis;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let receiver: Receiver;

  beforeAll(async () => {
    redis = await startRedis();
    client = await connectClient(redis.url);
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await client?.close();
    await receiver?.close();
    await redis?.close();
  });

  /** The hub's connections as Redis lists them: name and last command, per connection. */
  const hubConnections = async () => {
    const list = (await client.sendCommand(['CLIENT', 'LIST'])) as string;
    return list
      .split('\n')
      .filter((line) => line.includes(' name=switchboard'))
      .map((line) => ({ name: /\bname=(\S+)/.exec(line)?.[1] ?? '', cmd: /\bcmd=(\S+)/.exec(line)?.[1] ?? '' }));
  };
  /** Handles that keep a process alive (sockets, timers), by kind. */
  const aliveHandles = () => {
    // Opened lazily on first use (by the hub's logger), and the process's own: not the hub's.
    void process.stdout;
    void process.stderr;
    const counts: Record<string, number> = {};
    for (const kind of process.getActiveResourcesInfo()) if (kind !== 'TTYWrap') counts[kind] = (counts[kind] ?? 0) + 1;
    return counts;
  };

  it('closes exactly what a failed start opened, newest first, and leaves no connection or timer behind', async () => {
    const before = aliveHandles();
    expect(await hubConnections()).toEqual([]);
    const started: string[] = [];
    const closed: string[] = [];
    const recorder = (name: string, fail = false): ComponentFactory => () => ({
      name,
      start() {
        if (fail) throw new Error(`${name} cannot start`);
        started.push(name);
      },
      close() {
        closed.push(name);
      },
    });
    const config = parseConfig({
      dataDir: tempDir('switchboard-data-'),
      logLevel: 'silent',
      keyPrefix: 'sbtest',
      http: { port: 0 },
      redis: { url: redis.url },
      auth: { apiToken: TEST_TOKEN },
      webhooks: { allowPrivateTargets: true },
    });
    const components = [recorder('first'), integratorsComponent, webhooksComponent, listRelayComponent, liveComponent, recorder('failing', true), recorder('never started')];
    await expect(Hub.start(Object.freeze(config), { components })).rejects.toThrow('failing cannot start');

    // Every component built was closed (the one never started too), the newest first.
    expect(started).toEqual(['first']);
    expect(closed).toEqual(['never started', 'failing', 'first']);
    await waitFor(async () => (await hubConnections()).length === 0, 5000, 'every connection of the hub to close');
    const noneLeft = () => Object.entries(aliveHandles()).every(([kind, count]) => count <= (before[kind] ?? 0));
    await waitFor(noneLeft, 5000, 'no socket, server, timer or child process more than before the start');
    expect(noneLeft(), `before ${JSON.stringify(before)}, after ${JSON.stringify(aliveHandles())}`).toBe(true);
  });

  it('closes at shutdown a connection a component opened after start and left open', async () => {
    const careless: ComponentFactory = (context) => ({
      name: 'careless',
      start: () => void context.openRedis({ name: 'switchboard-careless' }),
      close: () => {},
    });
    const config = parseConfig({ dataDir: tempDir('switchboard-data-'), logLevel: 'silent', keyPrefix: 'sbcareless', http: { port: 0 }, redis: { url: redis.url }, auth: { apiToken: TEST_TOKEN } });
    const hub = await Hub.start(Object.freeze(config), { components: [careless] });
    await waitFor(async () => (await hubConnections()).some((connection) => connection.name === 'switchboard-careless'), 5000, 'the connection to open');
    await hub.close();
    await waitFor(async () => (await hubConnections()).length === 0, 5000, 'every connection of the hub to close');
  });

  it('reads the log with one blocking connection, shared by webhooks, the stream, the live state and the list relay, and closes every connection on shutdown', async () => {
    const hub = await startHub(redis.url, { keyPrefix: 'sbfeed', webhooks: { allowPrivateTargets: true, batchLingerMs: 5, pollIntervalMs: 100 } });
    const relayedList = 'desk:cdrs';
    const stream = await openStream(hub.url);
    try {
      expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'desk', listKey: relayedList })).status).toBe(201);
      expect((await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiver.url })).status).toBe(200);
      await waitFor(async () => (await client.exists(hub.context.keys.relayCursor(relayedList))) === 1, 10_000, 'the relay to create its cursor');
      for (let n = 1; n <= 3; n += 1) expect((await postEvents(hub.url, cdrEvent(n))).status).toBe(202);

      // Every consumer got the three events, in order.
      const ids = ['cdr-1', 'cdr-2', 'cdr-3'];
      await stream.waitFor(() => stream.events().length >= 3, 15_000, 'the stream to carry the events');
      expect(stream.events().map((message) => (JSON.parse(message.data) as { id: string }).id)).toEqual(ids);
      await waitFor(() => receiver.delivered().length >= 3, 15_000, 'the webhook to post the events');
      expect(receiver.delivered().map((object) => object.id)).toEqual(ids);
      await waitFor(async () => (await client.lLen(relayedList)) >= 3, 15_000, 'the relay to push the events');
      expect(await client.lLen(relayedList)).toBe(3);

      const connections = await hubConnections();
      const reading = connections.filter((connection) => connection.cmd === 'xread');
      expect(reading.map((connection) => connection.name)).toEqual(['switchboard-log-feed']);
      // Nothing else of the hub blocks: names are unique per role, none is a per-list connection.
      expect(connections.map((connection) => connection.name).filter((name) => name.startsWith('switchboard-list-relay:'))).toEqual([]);
    } finally {
      stream.close();
      await hub.close();
    }
    await waitFor(async () => (await hubConnections()).length === 0, 5000, 'every connection of the hub to close');
    expect(await hubConnections()).toEqual([]);
  });

  it('two hubs relaying the same list from their feeds push each event exactly once, in log order', async () => {
    const hubs = [await startHub(redis.url, { keyPrefix: 'sbtwo' }), await startHub(redis.url, { keyPrefix: 'sbtwo' })];
    const list = 'two:cdrs';
    try {
      expect((await api(hubs[0]!.url, 'POST', '/v1/integrators', { name: 'two', listKey: list })).status).toBe(201);
      const relaying = async (hub: Hub) => (await (await fetch(`${hub.url}/metrics`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).text()).includes(`switchboard_list_relay_position_ms{list="${list}"}`);
      await waitFor(async () => (await relaying(hubs[0]!)) && (await relaying(hubs[1]!)), 10_000, 'both hubs to relay the list');
      const batches = 8;
      const perBatch = 50;
      for (let batch = 0; batch < batches; batch += 1) {
        const events = Array.from({ length: perBatch }, (_, index) => cdrEvent(batch * perBatch + index + 1));
        expect((await postEvents(hubs[batch % 2]!.url, events)).status).toBe(202);
      }
      const total = batches * perBatch;
      await waitFor(async () => (await client.lLen(list)) >= total, 20_000, `the list to hold ${total} messages`);
      const calls = (await client.lRange(list, 0, -1)).reverse().map((message) => (JSON.parse(message) as { payload: { call_ref: string } }).payload.call_ref);
      expect(calls).toEqual(Array.from({ length: total }, (_, index) => `call-${index + 1}`));
    } finally {
      await Promise.all(hubs.map((hub) => hub.close()));
    }
  });

  it('on SIGTERM drains and closes every connection, the relayed lists\' too, and the process exits', async () => {
    const child = await startChildHub({ SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_KEY_PREFIX: 'sbterm' });
    try {
      for (const name of ['desk', 'board']) expect((await api(child.url, 'POST', '/v1/integrators', { name, listKey: `${name}:events` })).status).toBe(201);
      // The cursors' keys as src/redis/keys.ts names them.
      await waitFor(async () => (await client.exists(['{desk:events}:sbterm:relay', '{board:events}:sbterm:relay'])) === 2, 15_000, 'both relays to create their cursors');
      expect((await postEvents(child.url, cdrEvent(1))).status).toBe(202);
      await waitFor(async () => (await client.lLen('desk:events')) === 1 && (await client.lLen('board:events')) === 1, 15_000, 'both lists to get the event');
      expect((await hubConnections()).length).toBeGreaterThan(0);
    } finally {
      expect(await child.kill('SIGTERM')).toBe(0);
    }
    // The process exited on its own (nothing kept it alive), and Redis lists none of its connections.
    await waitFor(async () => (await hubConnections()).length === 0, 5000, 'every connection of the hub to close');
    expect(await hubConnections()).toEqual([]);
  });
});
