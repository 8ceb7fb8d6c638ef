import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { eventLogKey } from '../src/redis/keys.js';
import { AMI_SECRET, AMI_USER, AmiDriver, RealAsterisk } from './helpers/asterisk.js';
import { startChildHub, startHub, TEST_TOKEN, type ChildHub } from './helpers/hub.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/*
 * The Asterisk source against a real Asterisk 22 (Debian sid's package in a chroot,
 * test/helpers/asterisk.ts), driven through AMI as an operator's PBX would be: Local-channel
 * agents answer through app_queue, callers are originated into queues. Each scenario has its own
 * queues and agents. The oracle for the live figures is Asterisk's own QueueStatus.
 */

interface LoggedEvent {
  id: string;
  type: string;
  time: string;
  source?: string;
  data: Record<string, unknown>;
}

interface LiveQueue {
  queue: string;
  waiting: number;
  longest_wait_since: string | null;
  offered: number;
  answered: number;
  abandoned: number;
  service_level_pct: number | null;
  average_wait_s: number | null;
  average_talk_s: number | null;
}

const SERVICE_LEVEL_S = 5;
const QUEUES = ['answered', 'abandon', 'rna', 'staff', 'shared-a', 'shared-b', 'xfer-a', 'xfer-b', 'early', 'survive', 'perleg', 'restart'];

type Client = Awaited<ReturnType<typeof connectClient>>;

describe('Asterisk source against a real Asterisk 22', () => {
  let redis: TestRedis;
  let client: Client;
  let asterisk: RealAsterisk;
  let ami: AmiDriver;
  const hubs: Hub[] = [];
  const children: ChildHub[] = [];

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = await connectClient(redis.url);
    asterisk = await RealAsterisk.start({
      queues: Object.fromEntries(QUEUES.map((queue) => [queue, { servicelevel: SERVICE_LEVEL_S, strategy: queue === 'rna' ? 'linear' : 'ringall' }])),
    });
    ami = await AmiDriver.connect(asterisk.amiPort);
  }, 20 * 60_000);
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
    for (const child of children.splice(0)) await child.kill();
  });
  afterAll(async () => {
    await ami?.close();
    await asterisk?.close();
    await client?.quit();
    await redis?.close();
  });

  const sourceConfig = () => ({
    type: 'asterisk',
    name: 'pbx',
    host: '127.0.0.1',
    port: asterisk.amiPort,
    username: AMI_USER,
    secret: AMI_SECRET,
    reconnectInitialMs: 100,
    reconnectMaxMs: 1000,
    cdrSettleMs: 300,
  });
  const liveConfig = { serviceLevelThresholdMs: SERVICE_LEVEL_S * 1000, shortAbandonMs: 0 };

  async function startPbxHub(keyPrefix = `ast${Math.random().toString(36).slice(2, 8)}`, source: Record<string, unknown> = {}): Promise<Hub> {
    const hub = await startHub(redis.url, { keyPrefix, sources: [{ ...sourceConfig(), ...source }], live: liveConfig });
    hubs.push(hub);
    await waitFor(async () => (await log(keyPrefix)).some((event) => event.type === 'source.resynced'), 30_000, 'the first resync');
    return hub;
  }

  async function log(keyPrefix: string): Promise<LoggedEvent[]> {
    const entries = await client.xRange(eventLogKey(keyPrefix), '-', '+');
    return (entries ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
  }

  const prefixOf = (hub: Hub) => hub.context.config.keyPrefix;

  async function liveQueue(url: string, queue: string): Promise<LiveQueue | undefined> {
    const response = await fetch(`${url}/v1/live/queues`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    if (response.status !== 200) return undefined;
    const body = (await response.json()) as { queues: LiveQueue[] };
    return body.queues.find((entry) => entry.queue === queue);
  }

  async function addMember(queue: string, extension: string, name: string): Promise<void> {
    const { response } = await ami.action({ Action: 'QueueAdd', Queue: queue, Interface: `Local/${extension}@agents`, MemberName: name });
    expect(response.headers.Response).toBe('Success');
  }

  async function records(keyPrefix: string, callId: string): Promise<LoggedEvent[]> {
    return (await log(keyPrefix)).filter((event) => event.type === 'cdr.created' && event.data.call_id === callId);
  }

  async function waitForRecord(keyPrefix: string, callId: string): Promise<LoggedEvent> {
    await waitFor(async () => (await records(keyPrefix, callId)).length > 0, 60_000, `the record of call ${callId}`);
    return (await records(keyPrefix, callId))[0]!;
  }

  /** Asterisk's own figures for a queue beside Switchboard's, in Asterisk's terms. */
  async function figures(url: string, queue: string) {
    const params = await ami.queueParams(queue);
    const live = await liveQueue(url, queue);
    return {
      asterisk: {
        completed: Number(params.Completed),
        abandoned: Number(params.Abandoned),
        waiting: Number(params.Calls),
        holdtime: Number(params.Holdtime),
        talktime: Number(params.TalkTime),
        serviceLevelPerf: Number(params.ServicelevelPerf),
      },
      switchboard: {
        completed: live?.answered ?? 0,
        abandoned: live?.abandoned ?? 0,
        waiting: live?.waiting ?? 0,
        holdtime: Math.round(live?.average_wait_s ?? 0),
        talktime: Math.round(live?.average_talk_s ?? 0),
        serviceLevelPerf: live?.answered ? (live.service_level_pct ?? 0) : 0,
      },
    };
  }

  async function expectFiguresAgree(url: string, queue: string, expected: Partial<Record<'completed' | 'abandoned' | 'waiting', number>>) {
    let last: Awaited<ReturnType<typeof figures>> | undefined;
    await waitFor(
      async () => {
        last = await figures(url, queue);
        return JSON.stringify(last.asterisk) === JSON.stringify(last.switchboard);
      },
      20_000,
      `live figures of ${queue} to equal Asterisk's`,
    ).catch(() => undefined);
    expect(last!.switchboard).toEqual(last!.asterisk);
    expect(last!.asterisk).toMatchObject(expected);
  }

  /**
   * The call's AgentComplete events: with its Linkedid, or, published once the caller's channel
   * was gone, with no channel at all (then by the queue and member an AgentConnect of it named).
   */
  const completesOf = (callId: string) => {
    const members = new Set(
      ami.events.filter((event) => event.headers.Event === 'AgentConnect' && event.headers.Linkedid === callId).map((event) => `${event.headers.Queue}|${event.headers.MemberName}`),
    );
    return ami.events.filter(
      (event) =>
        event.headers.Event === 'AgentComplete' &&
        (event.headers.Linkedid === callId || (event.headers.Linkedid === undefined && members.has(`${event.headers.Queue}|${event.headers.MemberName}`))),
    );
  };
  /** Asterisk's own talk time of a call: the TalkTime of each of its AgentComplete events. */
  const talkOf = (callId: string) => completesOf(callId).reduce((sum, event) => sum + Number(event.headers.TalkTime), 0);

  const callEvents = async (keyPrefix: string, callId: string) =>
    (await log(keyPrefix)).filter((event) => event.type.startsWith('call.') && event.data.call_id === callId);

  it('an answered call: its catalogue events, one record with the legs merged, and Asterisk\'s own figures', async () => {
    const hub = await startPbxHub();
    await addMember('answered', '1101', 'amy');
    const callId = await ami.originate('answered', '5551101', 20);
    const record = await waitForRecord(prefixOf(hub), callId);
    expect((await callEvents(prefixOf(hub), callId)).map((event) => event.type)).toEqual(['call.queued', 'call.offered', 'call.connected', 'call.ended']);
    expect(record.id).toBe(`ami:cdr:${callId}`);
    expect(record.data).toMatchObject({
      call_id: callId,
      number: '5551101',
      dial_number: 'answered',
      direction: 'inbound',
      queue: 'answered',
      agent: 'amy',
      // The agent's phone hung up after 2 s of talk (AgentComplete Reason: agent).
      disposition: 'agent_hungup',
      talk_s: talkOf(callId),
      hold_s: 0,
      q850_cause: 16,
    });
    const data = record.data as Record<string, string | number>;
    expect(data.wait_s).toBeLessThanOrEqual(1);
    expect(Date.parse(String(data.dialed_at))).toBeLessThanOrEqual(Date.parse(String(data.answered_at)));
    expect(Date.parse(String(data.answered_at))).toBeLessThan(Date.parse(String(data.ended_at)));
    expect(data.duration_s).toBeGreaterThanOrEqual(2);
    // Settled: still one record once Asterisk's trailing Cdr events are all in.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(await records(prefixOf(hub), callId)).toHaveLength(1);
    expect((await log(prefixOf(hub))).filter((event) => event.type === 'cdr.created')).toHaveLength(1);
    await expectFiguresAgree(hub.url, 'answered', { completed: 1, abandoned: 0, waiting: 0 });
  });

  it('an abandoned call: the caller hangs up while every member is paused; its record says abandoned, with no agent', async () => {
    const hub = await startPbxHub();
    await addMember('abandon', '1201', 'abe');
    await ami.action({ Action: 'QueuePause', Queue: 'abandon', Interface: 'Local/1201@agents', Paused: 'true', Reason: 'lunch' });
    const callId = await ami.originate('abandon', '5551201', 3);
    const record = await waitForRecord(prefixOf(hub), callId);
    expect((await callEvents(prefixOf(hub), callId)).map((event) => event.type)).toEqual(['call.queued', 'call.abandoned']);
    expect(record.data).toMatchObject({ call_id: callId, number: '5551201', queue: 'abandon', agent: null, disposition: 'abandoned', talk_s: 0 });
    expect(record.data).not.toHaveProperty('answered_at');
    expect(Number(record.data.wait_s)).toBeGreaterThanOrEqual(2);
    // The Enigma CDR list keeps its contract: an abandoned queue call has no extension.
    const enigma = (await client.lRange(hub.context.keys.enigmaCdrList, 0, -1))
      .map((entry) => JSON.parse(entry) as { payload: Record<string, unknown> })
      .filter((entry) => entry.payload.call_ref === callId);
    expect(enigma).toHaveLength(1);
    expect(enigma[0]!.payload).toMatchObject({ extension: null, end_reason: 'callee_hungup', number: '5551201' });
    const agent = (await log(prefixOf(hub))).filter((event) => event.type === 'agent.status_changed' && event.data.agent === 'abe').at(-1);
    expect(agent?.data).toMatchObject({ status: 'not_ready', reason: 'lunch', queues: ['abandon'] });
    await expectFiguresAgree(hub.url, 'abandon', { completed: 0, abandoned: 1, waiting: 0 });
  });

  it('ring, no answer, then the next agent: one offered call, one record naming the agent who talked', async () => {
    const hub = await startPbxHub();
    await addMember('rna', '9301', 'nora');
    await addMember('rna', '1302', 'rita');
    const callId = await ami.originate('rna', '5551301', 30);
    const record = await waitForRecord(prefixOf(hub), callId);
    const events = await callEvents(prefixOf(hub), callId);
    expect(events.map((event) => `${event.type}${event.data.agent ? `:${String(event.data.agent)}` : ''}`)).toEqual([
      'call.queued',
      'call.offered:nora',
      // nora rang out (AgentRingNoAnswer): a missed offer.
      'call.missed:nora',
      'call.offered:rita',
      'call.connected:rita',
      'call.ended:rita',
    ]);
    expect(record.data).toMatchObject({ queue: 'rna', agent: 'rita', disposition: 'agent_hungup', talk_s: talkOf(callId) });
    // nora rang for the queue's 4 s timeout first.
    expect(Number(record.data.wait_s)).toBeGreaterThanOrEqual(4);
    await expectFiguresAgree(hub.url, 'rna', { completed: 1, abandoned: 0 });
  });

  it('agent log in, pause with a reason, unpause and log out, each with the member\'s queues', async () => {
    const hub = await startPbxHub();
    await addMember('staff', '1401', 'lou');
    await ami.action({ Action: 'QueuePause', Queue: 'staff', Interface: 'Local/1401@agents', Paused: 'true', Reason: 'training' });
    await ami.action({ Action: 'QueuePause', Queue: 'staff', Interface: 'Local/1401@agents', Paused: 'false' });
    await ami.action({ Action: 'QueueRemove', Queue: 'staff', Interface: 'Local/1401@agents' });
    const lou = async () => (await log(prefixOf(hub))).filter((event) => event.type === 'agent.status_changed' && event.data.agent === 'lou');
    await waitFor(async () => (await lou()).length === 4, 20_000, "lou's four changes");
    expect((await lou()).map((event) => event.data)).toEqual([
      { agent: 'lou', status: 'available', status_raw: 'device_state_1', queues: ['staff'] },
      { agent: 'lou', status: 'not_ready', status_raw: 'paused', reason: 'training', queues: ['staff'] },
      { agent: 'lou', status: 'available', status_raw: 'device_state_1', queues: ['staff'] },
      { agent: 'lou', status: 'offline', status_raw: 'removed', queues: [] },
    ]);
  });

  it('two queues sharing an agent: agent events name both, the call counts in its own queue only', async () => {
    const hub = await startPbxHub();
    await addMember('shared-a', '1501', 'sam');
    await addMember('shared-b', '1501', 'sam');
    const callId = await ami.originate('shared-b', '5551501', 20);
    const record = await waitForRecord(prefixOf(hub), callId);
    expect(record.data).toMatchObject({ queue: 'shared-b', agent: 'sam', disposition: 'agent_hungup' });
    const sam = (await log(prefixOf(hub))).filter((event) => event.type === 'agent.status_changed' && event.data.agent === 'sam');
    expect(sam.map((event) => event.data.queues)).toContainEqual(['shared-a', 'shared-b']);
    await expectFiguresAgree(hub.url, 'shared-b', { completed: 1 });
    await expectFiguresAgree(hub.url, 'shared-a', { completed: 0, abandoned: 0 });
  });

  it('a blind transfer from the agent to another queue: one record, in the queue and with the agent that finished it', async () => {
    const hub = await startPbxHub();
    await addMember('xfer-a', '2601', 'tess');
    await addMember('xfer-b', '1602', 'tom');
    const callId = await ami.originate('xfer-a', '5551601', 60);
    const [connect] = await ami.waitForEvents((event) => event.headers.Event === 'AgentConnect' && event.headers.Linkedid === callId, 1, 30_000, 'tess answering');
    // AgentConnect can precede the agent's channel entering the bridge; a transfer needs the bridge.
    await ami.waitForEvents((event) => event.headers.Event === 'BridgeEnter' && event.headers.Channel === connect!.headers.DestChannel, 1, 30_000, 'tess in the bridge');
    const { response } = await ami.action({ Action: 'BlindTransfer', Channel: connect!.headers.DestChannel!, Context: 'queue-in', Exten: 'xfer-b' });
    expect(response.headers.Response).toBe('Success');
    const record = await waitForRecord(prefixOf(hub), callId);
    expect(record.data).toMatchObject({ call_id: callId, queue: 'xfer-b', agent: 'tom', disposition: 'agent_hungup' });
    // Talk is both agents' (Asterisk's TalkTime of each AgentComplete of the call).
    await waitFor(() => completesOf(callId).length === 2, 30_000, "both agents' AgentComplete");
    expect(completesOf(callId).map((event) => event.headers.MemberName)).toEqual(['tess', 'tom']);
    expect(record.data.talk_s).toBe(talkOf(callId));
    expect(await records(prefixOf(hub), callId)).toHaveLength(1);
    await expectFiguresAgree(hub.url, 'xfer-a', { completed: 1 });
    await expectFiguresAgree(hub.url, 'xfer-b', { completed: 1 });
  });

  it('a caller already waiting when the hub first connects is live waiting, then served and recorded once', async () => {
    const callId = await ami.originate('early', '5551701', 60);
    const hub = await startPbxHub();
    await waitFor(async () => (await liveQueue(hub.url, 'early'))?.waiting === 1, 20_000, 'the waiting caller in live state');
    const queued = (await callEvents(prefixOf(hub), callId))[0]!;
    expect(queued).toMatchObject({ type: 'call.queued', data: { call_id: callId, queue: 'early', caller_id: '5551701' } });
    const live = await liveQueue(hub.url, 'early');
    expect(Date.parse(live!.longest_wait_since!)).toBeLessThanOrEqual(Date.now());
    await expectFiguresAgree(hub.url, 'early', { waiting: 1 });
    await addMember('early', '1701', 'eve');
    const record = await waitForRecord(prefixOf(hub), callId);
    expect(record.data).toMatchObject({ queue: 'early', agent: 'eve', disposition: 'agent_hungup', number: '5551701' });
    await expectFiguresAgree(hub.url, 'early', { completed: 1, waiting: 0 });
  });

  it('a caller waiting across a kill -9 and restart of the hub: still waiting, then one record', async () => {
    const keyPrefix = `astkill${Math.random().toString(36).slice(2, 6)}`;
    const configFile = join(tempDir('switchboard-ast-'), 'config.json');
    writeFileSync(configFile, JSON.stringify({ keyPrefix, dataDir: tempDir('switchboard-data-'), redis: { url: redis.url }, sources: [sourceConfig()], live: liveConfig }));
    const first = await startChildHub({ SWITCHBOARD_CONFIG: configFile });
    children.push(first);
    await waitFor(async () => (await log(keyPrefix)).some((event) => event.type === 'source.resynced'), 30_000, 'the first hub to resync');
    const callId = await ami.originate('survive', '5551801', 60);
    await waitFor(async () => (await liveQueue(first.url, 'survive'))?.waiting === 1, 20_000, 'the first hub to see the caller');
    await first.kill('SIGKILL');
    const second = await startChildHub({ SWITCHBOARD_CONFIG: configFile });
    children.push(second);
    await waitFor(async () => (await log(keyPrefix)).filter((event) => event.type === 'source.resynced').length === 2, 30_000, 'the second hub to resync');
    await waitFor(async () => (await liveQueue(second.url, 'survive'))?.waiting === 1, 20_000, 'the second hub to show the caller waiting');
    await addMember('survive', '1801', 'kim');
    const record = await waitForRecord(keyPrefix, callId);
    expect(record.data).toMatchObject({ queue: 'survive', agent: 'kim', number: '5551801' });
    expect(await records(keyPrefix, callId)).toHaveLength(1);
    await expectFiguresAgree(second.url, 'survive', { completed: 1, waiting: 0 });
    // Offered once, though two hubs reported the caller queued.
    expect((await liveQueue(second.url, 'survive'))!.offered).toBe(1);
  });

  it('cdr: per_leg keeps Asterisk\'s own record of each leg, each with the call\'s id; still one offered call', async () => {
    const hub = await startPbxHub(undefined, { cdr: 'per_leg' });
    await addMember('perleg', '1901', 'pia');
    const callId = await ami.originate('perleg', '5551951', 20);
    // Asterisk's Cdr events of this call: those of the channels whose Linkedid is the call's.
    await ami.waitForEvents((event) => event.headers.Event === 'Hangup' && event.headers.Uniqueid === callId, 1, 30_000, 'the caller hanging up');
    const channels = new Set(ami.events.filter((event) => event.headers.Event === 'Newchannel' && event.headers.Linkedid === callId).map((event) => event.headers.Uniqueid));
    const asteriskRecords = () => ami.events.filter((event) => event.headers.Event === 'Cdr' && channels.has(event.headers.UniqueID));
    await waitFor(async () => (await records(prefixOf(hub), callId)).length === asteriskRecords().length, 20_000, 'one record per Cdr');
    expect(asteriskRecords().length).toBeGreaterThan(1);
    expect((await records(prefixOf(hub), callId)).every((record) => record.data.queue === 'perleg')).toBe(true);
    await expectFiguresAgree(hub.url, 'perleg', { completed: 1 });
    expect((await liveQueue(hub.url, 'perleg'))!.offered).toBe(1);
  });

  it('Asterisk restarted mid-day: a restarted gap and resync, and the calls it dropped leave live state', async () => {
    const hub = await startPbxHub();
    const callId = await ami.originate('restart', '5551901', 60);
    await waitFor(async () => (await liveQueue(hub.url, 'restart'))?.waiting === 1, 20_000, 'the waiting caller');
    await asterisk.restart();
    await ami.close();
    ami = await AmiDriver.connect(asterisk.amiPort);
    const sourceEvents = async () => (await log(prefixOf(hub))).filter((event) => event.type.startsWith('source.'));
    await waitFor(async () => (await sourceEvents()).length === 3, 30_000, 'the gap and the resync after the restart');
    expect((await sourceEvents()).map((event) => `${event.type}:${String(event.data.reason)}`)).toEqual([
      'source.resynced:connected',
      'source.gap:restarted',
      'source.resynced:restarted',
    ]);
    await expectFiguresAgree(hub.url, 'restart', { waiting: 0, completed: 0 });
    // The call Asterisk dropped is recorded as it was last heard of: queued, never answered.
    const record = await waitForRecord(prefixOf(hub), callId);
    expect(record.data).toMatchObject({ queue: 'restart', number: '5551901', agent: null, disposition: 'failed' });
    expect(record.data).not.toHaveProperty('answered_at');
  });
});

describe('Asterisk with CEL over AMI (cel_manager)', () => {
  it('with CEL events flowing as well (LINKEDID_END), still one record per call', async () => {
    const redis = await startRedis({ appendOnly: false });
    const client = await connectClient(redis.url);
    const asterisk = await RealAsterisk.start({ cel: true, queues: { celq: { servicelevel: SERVICE_LEVEL_S } } });
    const ami = await AmiDriver.connect(asterisk.amiPort);
    const hub = await startHub(redis.url, {
      keyPrefix: 'astcel',
      sources: [{ type: 'asterisk', name: 'pbx', host: '127.0.0.1', port: asterisk.amiPort, username: AMI_USER, secret: AMI_SECRET, cdrSettleMs: 300 }],
    });
    try {
      const log = async () => ((await client.xRange(eventLogKey('astcel'), '-', '+')) ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
      await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 30_000, 'the first resync');
      await ami.action({ Action: 'QueueAdd', Queue: 'celq', Interface: 'Local/1001@agents', MemberName: 'cal' });
      const callId = await ami.originate('celq', '5552001', 20);
      await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created' && event.data.call_id === callId), 60_000, 'the record');
      await ami.waitForEvents((event) => event.headers.Event === 'CEL' && event.headers.EventName === 'LINKEDID_END' && event.headers.LinkedID === callId, 1, 10_000, 'LINKEDID_END');
      const records = (await log()).filter((event) => event.type === 'cdr.created');
      expect(records).toHaveLength(1);
      expect(records[0]!.data).toMatchObject({ call_id: callId, queue: 'celq', agent: 'cal', disposition: 'agent_hungup', number: '5552001' });
    } finally {
      await hub.close();
      await ami.close();
      await asterisk.close();
      await client.quit();
      await redis.close();
    }
  });
});

describe('Asterisk without timestampevents', () => {
  it('says once, in the log and in /readyz, that event times are arrival times', async () => {
    const redis = await startRedis({ appendOnly: false });
    const asterisk = await RealAsterisk.start({ timestampEvents: false, queues: { plain: {} } });
    const hub = await startHub(redis.url, {
      keyPrefix: 'astnots',
      sources: [{ type: 'asterisk', name: 'pbx', host: '127.0.0.1', port: asterisk.amiPort, username: AMI_USER, secret: AMI_SECRET }],
    });
    try {
      const ami = await AmiDriver.connect(asterisk.amiPort);
      await ami.action({ Action: 'QueueAdd', Queue: 'plain', Interface: 'Local/1001@agents', MemberName: 'pat' });
      await ami.close();
      let warning = '';
      await waitFor(
        async () => {
          const body = (await (await fetch(`${hub.url}/readyz`)).json()) as { checks?: { name: string; warning?: string }[] };
          warning = JSON.stringify(body);
          return warning.includes('timestampevents');
        },
        20_000,
        'the readiness warning',
      );
      expect(warning).toContain('event times are arrival times');
    } finally {
      await hub.close();
      await asterisk.close();
      await redis.close();
    }
  });
});
