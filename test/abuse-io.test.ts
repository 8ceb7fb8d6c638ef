import { readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { callcenterEvent, eventFrame, startFakeFreeswitch, type FakeFreeswitch } from './helpers/fake-freeswitch.js';
import { postEvents, startChildHub, startHub, TEST_TOKEN, type ChildHub } from './helpers/hub.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/**
 * Hostile volume against the hub's buffers (docs/security.md): slow stream readers, a PBX's huge
 * resync or reconnect storm, a spool that grew past its limit. CI-sized; `npm run bench -- abuse`
 * runs the full sizes.
 */

async function logIds(url: string, key: string): Promise<string[]> {
  const client = await connectClient(url);
  const entries = await client.xRange(key, '-', '+');
  await client.quit();
  return (entries ?? []).map((entry) => entry.message.id as string);
}

/** An event of about 4 KB. */
function padded(id: string) {
  return { id, type: 'agent.status_changed', data: { agent: '1002', status: 'available', custom: { padding: 'x'.repeat(4000) } } };
}

/** A field of /proc/<pid>/status, in bytes (VmRSS: resident now; VmHWM: its peak since the last reset). */
function memoryOf(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const kb = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

/** A stream client that sends its request, sees the stream open, and then never reads. */
async function neverReadingClient(url: string): Promise<Socket> {
  const socket = connect(Number(new URL(url).port), '127.0.0.1');
  let head = '';
  const opened = new Promise<void>((resolve, reject) => {
    socket.on('data', (chunk: Buffer) => {
      head += chunk.toString('latin1');
      if (head.includes('\r\n\r\n')) {
        socket.pause();
        resolve();
      }
    });
    socket.once('error', reject);
  });
  socket.write(`GET /v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${TEST_TOKEN}\r\nAccept: text/event-stream\r\n\r\n`);
  await opened;
  expect(head).toMatch(/^HTTP\/1\.1 200/);
  return socket;
}

describe('SSE clients that never read', () => {
  let redis: TestRedis | undefined;
  let child: ChildHub | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const socket of sockets.splice(0)) socket.destroy();
    await child?.kill();
    await redis?.close();
  });

  it('cost the hub at most 1.5 MiB each while 36 MB of events flow (stream.clientBufferBytes 1 MiB), and are all cut', async () => {
    redis = await startRedis({ appendOnly: false });
    child = await startChildHub({ SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_DATA_DIR: tempDir('switchboard-data-'), SWITCHBOARD_LOG_LEVEL: 'warn' });
    const pid = child.process.pid as number;
    const readers = 150;
    for (let i = 0; i < readers; i += 1) sockets.push(await neverReadingClient(child.url));
    expect((await postEvents(child.url, [padded('warm-up')])).status).toBe(202);
    const baseline = memoryOf(pid, 'VmRSS');
    // Resets VmHWM to the current RSS (proc(5), clear_refs): from here it is this test's peak.
    writeFileSync(`/proc/${pid}/clear_refs`, '5');

    // 36 MB in 90 requests of 100 events of 4 KB.
    for (let batch = 0; batch < 90; batch += 1) {
      const events = Array.from({ length: 100 }, (_, i) => padded(`flow-${batch}-${i}`));
      expect((await postEvents(child.url, events)).status).toBe(202);
    }
    const slowClientCuts = async () => Number((await (await fetch(`${child!.url}/metrics`)).text()).match(/switchboard_stream_disconnects_total\{reason="slow_client"\} (\d+)/)?.[1] ?? 0);
    await waitFor(async () => (await slowClientCuts()) === readers, 120_000, 'every reader to be cut');
    const growth = memoryOf(pid, 'VmHWM') - baseline;
    expect(growth).toBeLessThanOrEqual(readers * 1.5 * 1024 * 1024);
  });
});

describe('a spool that grew past spool.maxBytes', () => {
  let redis: TestRedis | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    await redis?.close();
    hub = undefined;
  });

  it('applies the limit at once on a hub started over it: 503 SPOOL_FULL while it drains, nothing spooled is lost', async () => {
    redis = await startRedis();
    const dataDir = tempDir('switchboard-data-');
    hub = await startHub(redis.url, { dataDir, spool: { maxBytes: 64 * 1024 * 1024 } });
    await redis.stop();
    // About 1.8 MB spooled under a 64 MB limit.
    const ids = Array.from({ length: 450 }, (_, i) => `grown-${String(i).padStart(4, '0')}`);
    for (let start = 0; start < ids.length; start += 50) {
      const response = await postEvents(hub.url, ids.slice(start, start + 50).map(padded));
      expect(response.status).toBe(202);
    }
    expect(hub.context.appender.spoolDepth).toBe(450);
    await hub.close();

    // The same spool under a 150 kB limit, Redis still away: nothing more is taken, nothing is dropped.
    hub = await startHub(redis.url, { dataDir, spool: { maxBytes: 150_000 } });
    expect(hub.context.appender.spoolDepth).toBe(450);
    const refused = await postEvents(hub.url, [padded('late-0')]);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'SPOOL_FULL' });
    expect(hub.context.appender.spoolDepth).toBe(450);

    await redis.start();
    await waitFor(() => hub!.context.appender.spoolDepth === 0, 30_000, 'the grown spool to drain');
    expect(await logIds(redis.url, hub.context.keys.eventLog)).toEqual(ids);
    // Drained, the spool takes writes again within its limit.
    await redis.stop();
    const accepted = await postEvents(hub.url, [padded('late-1'), padded('late-2')]);
    expect(accepted.status).toBe(202);
    expect(hub.context.appender.spoolDepth).toBe(2);
    let refusedAt = 0;
    for (let i = 3; i < 200 && refusedAt === 0; i += 1) if ((await postEvents(hub.url, [padded(`late-${i}`)])).status === 503) refusedAt = i;
    // 150 kB of 4 kB events, the WAL included: fewer than 37 fit.
    expect(refusedAt).toBeGreaterThan(3);
    expect(hub.context.appender.spoolDepth).toBeLessThan(37);
  });
});

interface LoggedEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

describe('a hostile FreeSWITCH', () => {
  let redis: TestRedis | undefined;
  let hub: Hub | undefined;
  let fake: FakeFreeswitch | undefined;
  afterEach(async () => {
    await hub?.close();
    await fake?.close();
    await redis?.close();
    hub = undefined;
  });

  async function setup(prepare: (peer: FakeFreeswitch) => void, source: Record<string, unknown> = {}) {
    redis = await startRedis({ appendOnly: false });
    fake = await startFakeFreeswitch();
    prepare(fake);
    hub = await startHub(redis.url, { sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: fake.port, reconnectInitialMs: 50, reconnectMaxMs: 400, ...source }] });
    const client = await connectClient(redis.url);
    const key = hub.context.keys.eventLog;
    const log = async (): Promise<LoggedEvent[]> => {
      const entries = await client.xRange(key, '-', '+');
      return (entries ?? []).map((entry) => JSON.parse(entry.message.event as string) as LoggedEvent);
    };
    const metric = async (name: string) => {
      const text = await (await fetch(`${hub!.url}/metrics`)).text();
      return Number(text.match(new RegExp(`^${name}\\{source="fs1"\\} (\\S+)$`, 'm'))?.[1] ?? NaN);
    };
    return { log, metric, close: () => client.quit() };
  }

  it('streams a 50k-agent resync in batches: every correction once, in order, then source.resynced; intake answers meanwhile', async () => {
    const agents = 50_000;
    const { log, close } = await setup((peer) => {
      peer.agents = Array.from({ length: agents }, (_, i) => ({ name: `agent-${String(i).padStart(5, '0')}@default`, status: i % 3 === 0 ? 'On Break' : 'Available', lastStatusChange: 1_795_255_000 + i }));
    });
    // Intake goes on while the corrections are appended.
    const during = await postEvents(hub!.url, [{ id: 'during-resync', type: 'agent.status_changed', data: { agent: 'web-1', status: 'available' } }]);
    expect(during.status).toBe(202);
    let events: LoggedEvent[] = [];
    await waitFor(async () => (events = await log()).some((event) => event.type === 'source.resynced'), 120_000, 'the resync to finish');
    const corrections = events.filter((event) => event.type === 'agent.status_changed' && event.id !== 'during-resync');
    expect(corrections).toHaveLength(agents);
    expect(corrections.map((event) => event.data.agent)).toEqual(fake!.agents.map((agent) => agent.name));
    expect(corrections.filter((event) => event.data.status === 'on_break')).toHaveLength(Math.ceil(agents / 3));
    expect(events.at(-1)).toMatchObject({ type: 'source.resynced', data: { reason: 'connected', agents, corrected: agents } });
    expect(events.filter((event) => event.id === 'during-resync')).toHaveLength(1);

    // A reconnect's resync corrects nothing: every status is remembered.
    fake!.drop();
    await waitFor(async () => (events = await log()).filter((event) => event.type === 'source.resynced').length === 2, 120_000, 'the second resync');
    expect(events.filter((event) => event.type === 'source.resynced').at(-1)).toMatchObject({ data: { reason: 'reconnected', agents, corrected: 0 } });
    expect(events.filter((event) => event.type === 'agent.status_changed')).toHaveLength(agents + 1);
    await close();
  });

  it('coalesces a reconnect storm: one source.gap for the outage, a backoff that keeps growing, one source.resynced once a session holds', async () => {
    let dropping = true;
    const sessions: number[] = [];
    const { log, close } = await setup((peer) => {
      peer.agents = [{ name: '1001@default', status: 'Available', lastStatusChange: 1_795_255_000 }];
      const answer = peer.api;
      peer.api = (command) => {
        if (command === 'global_getvar core_uuid') {
          sessions.push(Date.now());
          // Every session is dropped as soon as its handshake is answered.
          if (dropping) setImmediate(() => peer.drop());
        }
        return answer(command);
      };
    }, { reconnectInitialMs: 100, reconnectMaxMs: 800 });
    await waitFor(() => sessions.length >= 7, 30_000, 'seven sessions of the storm');
    const intervals = sessions.slice(1).map((at, index) => at - (sessions[index] as number));
    // The k-th reconnect waits at least half its backoff step (equal jitter): min(800, 100 × 2^k) / 2.
    intervals.forEach((interval, k) => expect(interval).toBeGreaterThanOrEqual(Math.min(800, 100 * 2 ** k) / 2 - 5));
    dropping = false;
    let events: LoggedEvent[] = [];
    await waitFor(async () => (events = await log()).some((event) => event.type === 'source.resynced'), 30_000, 'a resync once a session holds');
    const sourceEvents = events.filter((event) => event.type.startsWith('source.'));
    expect(sourceEvents.map((event) => event.type)).toEqual(['source.gap', 'source.resynced']);
    expect(sourceEvents[0]!.data).toMatchObject({ reason: 'disconnected' });
    await close();
  });

  it('counts a frame that is not valid UTF-8 as a parse error, stores nothing of it, and goes on', async () => {
    const { log, metric, close } = await setup(() => {});
    await fake!.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 20_000, 'the first resync');
    const before = await metric('switchboard_source_parse_errors_total');
    const status = (agent: string, sequence: number) => callcenterEvent(fake!.coreUuid, sequence, { 'CC-Agent': agent, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'On Break' });
    // An agent name with a lone 0xFF byte, twice: counted twice, logged once, stored never.
    const valid = Buffer.from(eventFrame(status('bad-XX@default', 10), 'json'));
    const marker = valid.indexOf('bad-XX');
    valid[marker + 4] = 0xff;
    valid[marker + 5] = 0xfe;
    fake!.raw(Buffer.concat([valid, valid]));
    fake!.send(status('good@default', 11));
    await waitFor(async () => (await log()).some((event) => event.data.agent === 'good@default'), 20_000, 'the event after the invalid ones');
    expect(await metric('switchboard_source_parse_errors_total')).toBe(before + 2);
    const events = await log();
    expect(events.filter((event) => String(event.data.agent ?? '').startsWith('bad-'))).toEqual([]);
    expect(JSON.stringify(events)).not.toContain('\uFFFD');
    await close();
  });
});
