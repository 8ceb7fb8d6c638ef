import { createHash } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { AmiParser, type AmiMessage } from '../src/sources/asterisk/parser.js';
import { amiMessage, startFakeAsterisk, type FakeAsterisk } from './helpers/fake-asterisk.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

describe('AMI framing', () => {
  const session =
    'Asterisk Call Manager/5.0.2\r\n' +
    amiMessage({ Response: 'Success', ActionID: 'sb-1', Message: 'Authentication accepted' }) +
    amiMessage({ Event: 'FullyBooted', Privilege: 'system,all', Status: 'Fully Booted' }) +
    amiMessage({ Event: 'QueueCallerJoin', Privilege: 'agent,all', Channel: 'PJSIP/trunk-00000012', CallerIDName: 'José Müller', Uniqueid: '1795255200.18', Linkedid: '1795255200.18', Queue: 'sales', Position: '1', Count: '1' }, { callrequest_id: '276547' }) +
    'Event: Join\r\nPrivilege: call,all\r\nChanVariable(SIP/trunk-0000000a): campaign_id=295\r\nQueue: support\r\n\r\n';

  function parse(chunks: Buffer[]) {
    const banners: string[] = [];
    const messages: AmiMessage[] = [];
    const parser = new AmiParser((banner) => banners.push(banner));
    for (const chunk of chunks) parser.push(chunk, (message) => messages.push(message));
    return { banners, messages };
  }

  it('reads the banner (no blank line after it) and messages, whether joined or split anywhere', () => {
    const bytes = Buffer.from(session);
    const whole = parse([bytes]);
    expect(whole.banners).toEqual(['Asterisk Call Manager/5.0.2']);
    expect(whole.messages.map((message) => message.headers.Response ?? message.headers.Event)).toEqual(['Success', 'FullyBooted', 'QueueCallerJoin', 'Join']);
    expect(whole.messages[2]).toMatchObject({ headers: { CallerIDName: 'José Müller', Linkedid: '1795255200.18' }, variables: { callrequest_id: '276547' } });
    expect(whole.messages[3]!.variables).toEqual({ campaign_id: '295' });
    expect(parse([...bytes].map((byte) => Buffer.from([byte])))).toEqual(whole);
    for (const cut of [5, 28, 29, 30, bytes.length - 2]) expect(parse([bytes.subarray(0, cut), bytes.subarray(cut)])).toEqual(whole);
  });

  it('refuses a peer that is not an Asterisk Manager', () => {
    expect(() => parse([Buffer.from('SSH-2.0-OpenSSH_9.2\r\n')])).toThrow(/not an Asterisk Manager banner/);
  });
});

type Client = Awaited<ReturnType<typeof connectClient>>;
interface LoggedEvent {
  id: string;
  type: string;
  time: string;
  source?: string;
  data: Record<string, unknown>;
}

describe('Asterisk source (loopback AMI peer)', () => {
  let redis: TestRedis;
  let client: Client;
  const hubs: Hub[] = [];
  const fakes: FakeAsterisk[] = [];

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = await connectClient(redis.url);
  });
  afterEach(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
    for (const fake of fakes.splice(0)) await fake.close();
  });
  afterAll(async () => {
    await client?.quit();
    await redis?.close();
  });

  async function setup(source: Record<string, unknown> = {}, prepare: (fake: FakeAsterisk) => void = () => {}, banner?: string) {
    const fake = await startFakeAsterisk(banner ? { banner } : {});
    prepare(fake);
    fakes.push(fake);
    const hub = await startHub(redis.url, {
      keyPrefix: `ami${Math.random().toString(36).slice(2, 8)}`,
      sources: [{ type: 'asterisk', name: 'pbx2', host: '127.0.0.1', port: fake.port, username: 'switchboard', secret: 's3cret-pass', reconnectInitialMs: 50, reconnectMaxMs: 400, ...source }],
    });
    hubs.push(hub);
    const log = async (): Promise<LoggedEvent[]> =>
      (await client.xRange(hub.context.keys.eventLog, '-', '+'))!.map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    const metric = async (name: string) => {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      return Number(text.match(new RegExp(`^${name}\\{source="pbx2"\\} (\\S+)$`, 'm'))?.[1] ?? NaN);
    };
    return { fake, hub, log, metric };
  }

  const caller = {
    Channel: 'PJSIP/trunk-00000012', ChannelState: '6', ChannelStateDesc: 'Up', CallerIDNum: '34650844400', CallerIDName: '<unknown>',
    ConnectedLineNum: '<unknown>', ConnectedLineName: '<unknown>', Language: 'en', AccountCode: '', Context: 'from-trunk', Exten: '8000', Priority: '3',
    Uniqueid: '1795255200.18', Linkedid: '1795255200.18',
  };
  const agentLeg = {
    DestChannel: 'PJSIP/1002-00000013', DestChannelState: '5', DestChannelStateDesc: 'Ringing', DestCallerIDNum: '1002', DestCallerIDName: 'Agent 1002',
    DestUniqueid: '1795255205.19', DestLinkedid: '1795255200.18',
  };
  const member = { Queue: 'sales', Interface: 'PJSIP/1002', MemberName: 'Agent 1002' };
  const at = (seconds: number) => ({ Timestamp: `${1795255200 + seconds}.000123` });

  it('logs in with the MD5 challenge and maps a queued call (Asterisk 12+ vocabulary, Linkedid, channel variables)', async () => {
    const { fake, log } = await setup();
    const subscriber = await connectClient(redis.url);
    const newfies: string[] = [];
    await subscriber.subscribe('callcenter_events', (message) => newfies.push(message));
    await fake.waitForLogin();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const [challenge, login, coreStatus, getConfig, queueStatus] = fake.actions;
    expect(challenge).toMatchObject({ Action: 'Challenge', AuthType: 'MD5' });
    expect(login).toMatchObject({ Action: 'Login', Username: 'switchboard', AuthType: 'MD5', Events: 'on', Key: expect.stringMatching(/^[0-9a-f]{32}$/) });
    expect(login).not.toHaveProperty('Secret');
    // CoreStatus: Asterisk's startup time tells a restart from a reconnect.
    expect(coreStatus).toMatchObject({ Action: 'CoreStatus' });
    // queues.conf for each queue's wrapuptime (this peer refuses it: the resync goes on without).
    expect(getConfig).toMatchObject({ Action: 'GetConfig', Filename: 'queues.conf' });
    expect(queueStatus).toMatchObject({ Action: 'QueueStatus', ActionID: expect.stringMatching(/^sb-\d+$/) });

    const variables = { callrequest_id: '276547', campaign_id: '295' };
    fake.send({ Event: 'QueueCallerJoin', Privilege: 'agent,all', ...at(0), ...caller, Queue: 'sales', Position: '1', Count: '1' }, variables);
    fake.send({ Event: 'QueueMemberStatus', Privilege: 'agent,all', ...at(1), ...member, StateInterface: 'PJSIP/1002', Membership: 'dynamic', Penalty: '0', CallsTaken: '4', LastCall: '1795255000', LastPause: '0', LoginTime: '1795250000', InCall: '0', Status: '6', Paused: '0', PausedReason: '', Ringinuse: '0', Wrapuptime: '0' });
    fake.send({ Event: 'AgentCalled', Privilege: 'agent,all', ...at(5), ...caller, ...agentLeg, ...member }, variables);
    fake.send({ Event: 'AgentConnect', Privilege: 'agent,all', ...at(10), ...caller, ...agentLeg, ...member, HoldTime: '10', RingTime: '5' }, variables);
    fake.send({ Event: 'AgentComplete', Privilege: 'agent,all', ...at(125), ...caller, ...agentLeg, ...member, HoldTime: '10', TalkTime: '115', Reason: 'caller' }, variables);
    fake.send({
      Event: 'Cdr', Privilege: 'cdr,all', AccountCode: '', Source: '34650844400', Destination: '8000', DestinationContext: 'from-trunk', CallerID: '"" <34650844400>',
      Channel: 'PJSIP/trunk-00000012', DestinationChannel: 'PJSIP/1002-00000013', LastApplication: 'Queue', LastData: 'sales', StartTime: '2026-11-21 10:00:00',
      AnswerTime: '2026-11-21 10:00:00', EndTime: '2026-11-21 10:02:05', Duration: '125', BillableSeconds: '125', Disposition: 'ANSWERED', AMAFlags: 'DOCUMENTATION',
      UniqueID: '1795255200.18', UserField: '',
    });
    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the CDR');
    const calls = (await log()).filter((event) => !event.type.startsWith('source.'));
    expect(calls.map((event) => event.type)).toEqual(['call.queued', 'agent.status_changed', 'call.offered', 'call.connected', 'call.ended', 'cdr.created']);
    expect(calls.every((event) => event.source === 'pbx2' && event.id.startsWith('ami:'))).toBe(true);
    expect(calls[0]!.data).toEqual({ call_id: '276547', queue: 'sales', campaign: '295', number: '34650844400', caller_id: '34650844400', position: 1, waiting: 1, queued_at: '2026-11-21T10:00:00.000Z' });
    expect(calls[1]!.data).toMatchObject({ agent: 'Agent 1002', status: 'busy' });
    expect(calls[3]!.data).toMatchObject({ call_id: '276547', agent: 'Agent 1002', queue: 'sales' });
    expect(calls[4]!.data).toMatchObject({ call_id: '276547', agent: 'Agent 1002', talk_s: 115, wait_s: 10, ended_by: 'caller' });
    // One record per call, the queue leg's facts merged: answered when the agent answered (not the IVR), the caller hung up.
    expect(calls[5]).toMatchObject({ id: 'ami:cdr:1795255200.18' });
    expect(calls[5]!.data).toEqual({
      call_id: '276547', number: '34650844400', direction: 'inbound', dialed_at: '2026-11-21T10:00:00.000Z', disposition: 'callee_hungup', agent: 'Agent 1002', campaign: '295',
      queue: 'sales', dial_number: '8000', answered_at: '2026-11-21T10:00:10.000Z', ended_at: '2026-11-21T10:02:05.000Z', duration_s: 125, wait_s: 10, talk_s: 115, hold_s: 0,
    });
    await waitFor(() => newfies.length >= 3, 15_000, 'Newfies messages');
    expect(newfies.map((message) => JSON.parse(message) as Record<string, unknown>)).toEqual([
      { 'Agent-Status-Change:': { CC_Agent: 'Agent 1002', CC_Agent_Status: 'Available' } },
      { 'Offering-Call-Agent:': expect.objectContaining({ callrequest_id: '276547', CC_Agent: 'Agent 1002', campaign_id: '295', CC_Queue: 'sales', phonenumber: '34650844400' }) },
      { 'Connected-Call-Agent:': expect.objectContaining({ callrequest_id: '276547', CC_Agent: 'Agent 1002' }) },
    ]);
    await subscriber.quit();
  });

  it('closes a call whose AgentComplete never came once every channel hung up: one record, nothing left in progress', async () => {
    const { fake, log, hub } = await setup({ cdrSettleMs: 100 });
    await fake.waitForLogin();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const calls = async () => {
      const response = await fetch(`${hub.url}/v1/live/calls`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      // 503 LIVE_REBUILDING while the projection replays the log after the start.
      return response.status === 200 ? ((await response.json()) as { calls: { call_id: string }[] }).calls : undefined;
    };
    // Recent times: live state shows no call older than live.staleCallMs.
    const base = Math.floor(Date.now() / 1000) - 70;
    const recent = (seconds: number) => ({ Timestamp: `${base + seconds}.000123` });
    const agentChannel = { Channel: 'PJSIP/1002-00000013', Uniqueid: '1795255205.19', Linkedid: '1795255200.18' };
    fake.send({ Event: 'Newchannel', Privilege: 'call,all', ...recent(0), ...caller });
    fake.send({ Event: 'QueueCallerJoin', Privilege: 'agent,all', ...recent(0), ...caller, Queue: 'sales', Position: '1', Count: '1' });
    fake.send({ Event: 'Newchannel', Privilege: 'call,all', ...recent(4), ...agentChannel });
    fake.send({ Event: 'AgentConnect', Privilege: 'agent,all', ...recent(5), ...caller, ...agentLeg, ...member, HoldTime: '5', RingTime: '1' });
    await waitFor(async () => (await calls())?.length === 1, 15_000, 'the call in progress');
    // The hub hears both hang-ups but never AgentComplete (lost while it was away, say).
    fake.send({ Event: 'Hangup', Privilege: 'call,all', ...recent(65), ...agentChannel, Cause: '16' });
    fake.send({ Event: 'Hangup', Privilege: 'call,all', ...recent(65), ...caller, Cause: '16' });
    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the record');
    const record = (await log()).filter((event) => event.type === 'cdr.created');
    expect(record).toHaveLength(1);
    // Talk from the answer to the last hang-up, as AgentComplete would have said.
    expect(record[0]!.data).toMatchObject({ call_id: '1795255200.18', agent: 'Agent 1002', queue: 'sales', disposition: 'answered', wait_s: 5, talk_s: 60, q850_cause: 16 });
    await waitFor(async () => (await calls())?.length === 0, 15_000, 'no call left in progress');
  });

  it('waits for an AgentComplete that comes after the last hang-up without the caller\'s channel (app_queue publishes it apart), and merges it', async () => {
    const { fake, log } = await setup({ cdrSettleMs: 100 });
    await fake.waitForLogin();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const agentChannel = { Channel: 'PJSIP/1002-00000013', Uniqueid: '1795255205.19', Linkedid: '1795255200.18' };
    fake.send({ Event: 'Newchannel', Privilege: 'call,all', ...at(0), ...caller });
    fake.send({ Event: 'QueueCallerJoin', Privilege: 'agent,all', ...at(0), ...caller, Queue: 'sales', Position: '1', Count: '1' });
    fake.send({ Event: 'Newchannel', Privilege: 'call,all', ...at(4), ...agentChannel });
    fake.send({ Event: 'AgentConnect', Privilege: 'agent,all', ...at(5), ...caller, ...agentLeg, ...member, HoldTime: '5', RingTime: '1' });
    fake.send({ Event: 'Hangup', Privilege: 'call,all', ...at(65), ...agentChannel, Cause: '16' });
    fake.send({ Event: 'Hangup', Privilege: 'call,all', ...at(65), ...caller, Cause: '16' });
    // A fence: a second call, abandoned and hung up after the first one's hang-ups, has its record
    // written once its own settle window passed; the first one's window has passed by then too.
    const other = { ...caller, Channel: 'PJSIP/trunk-00000014', CallerIDNum: '34650844401', Uniqueid: '1795255210.20', Linkedid: '1795255210.20' };
    fake.send({ Event: 'Newchannel', Privilege: 'call,all', ...at(66), ...other });
    fake.send({ Event: 'QueueCallerJoin', Privilege: 'agent,all', ...at(66), ...other, Queue: 'sales', Position: '1', Count: '1' });
    fake.send({ Event: 'QueueCallerAbandon', Privilege: 'agent,all', ...at(70), ...other, Queue: 'sales', Position: '1', OriginalPosition: '1', HoldTime: '4' });
    fake.send({ Event: 'Hangup', Privilege: 'call,all', ...at(70), ...other, Cause: '16' });
    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created' && event.data.call_id === other.Linkedid), 15_000, 'the fence call\'s record');
    expect((await log()).filter((event) => event.type === 'cdr.created' && event.data.call_id === caller.Linkedid)).toHaveLength(0);
    // Published once the caller's channel is gone, it carries no channel at all: only the member.
    fake.send({ Event: 'AgentComplete', Privilege: 'agent,all', ...at(65), ...member, HoldTime: '5', TalkTime: '58', Reason: 'caller' });
    const records = async () => (await log()).filter((event) => event.type === 'cdr.created' && event.data.call_id === caller.Linkedid);
    await waitFor(async () => (await records()).length > 0, 15_000, 'the record');
    expect(await records()).toHaveLength(1);
    expect((await records())[0]!.data).toMatchObject({ call_id: '1795255200.18', agent: 'Agent 1002', disposition: 'callee_hungup', wait_s: 5, talk_s: 58 });
    // The call.ended it maps to names the member's call, and comes before the record.
    const types = (await log()).filter((event) => event.data.call_id === caller.Linkedid).map((event) => event.type);
    expect(types).toEqual(['call.queued', 'call.connected', 'call.ended', 'cdr.created']);
  });

  it('an unpause that carries no device state keeps the last one: an agent unpaused on a call stays busy', async () => {
    const { fake, log } = await setup();
    await fake.waitForLogin();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    fake.send({ Event: 'QueueMemberStatus', Privilege: 'agent,all', ...at(1), ...member, Status: '2', Paused: '0', InCall: '1' });
    fake.send({ Event: 'QueueMemberPause', Privilege: 'agent,all', ...at(2), ...member, Paused: '1', PausedReason: 'coaching' });
    // Asterisk 1.8-style unpause: no Status header.
    fake.send({ Event: 'QueueMemberPause', Privilege: 'agent,all', ...at(3), ...member, Paused: '0' });
    const statuses = async () => (await log()).filter((event) => event.type === 'agent.status_changed').map((event) => event.data);
    await waitFor(async () => (await statuses()).length === 3, 15_000, 'three changes');
    expect(await statuses()).toEqual([
      { agent: 'Agent 1002', status: 'busy', status_raw: 'device_state_2', queues: ['sales'] },
      { agent: 'Agent 1002', status: 'not_ready', status_raw: 'paused', reason: 'coaching', queues: ['sales'] },
      { agent: 'Agent 1002', status: 'busy', status_raw: 'device_state_2', queues: ['sales'] },
    ]);
  });

  it('reads the 1.4–1.8 vocabulary (Join, AgentName, Name/Location) with a plain login, and abandoned callers', async () => {
    const { fake, log } = await setup({ authType: 'plain', events: 'agent,call,cdr' }, () => {}, 'Asterisk Call Manager/1.1');
    await fake.waitForLogin();
    expect(fake.actions[0]).toEqual({ Action: 'Login', Username: 'switchboard', Events: 'agent,call,cdr', Secret: 's3cret-pass', ActionID: 'sb-1' });
    // After the resync: the peer's QueueStatus lists no member, which would correct a member heard before it.
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    fake.send({ Event: 'Join', Privilege: 'call,all', Channel: 'SIP/trunk-0000000a', CallerIDNum: '4930123456', CallerIDName: 'Müller', Queue: 'support', Position: '2', Count: '2', Uniqueid: '1323364563.10' });
    fake.send({ Event: 'AgentCalled', Privilege: 'agent,all', Queue: 'support', AgentCalled: 'SIP/1002', AgentName: 'Agent 1002', ChannelCalling: 'SIP/trunk-0000000a', DestinationChannel: 'SIP/1002-0000000b', CallerIDNum: '4930123456', Uniqueid: '1323364563.10' });
    fake.send({ Event: 'QueueCallerAbandon', Privilege: 'agent,all', Queue: 'support', Uniqueid: '1323364563.10', Position: '1', OriginalPosition: '2', HoldTime: '31' });
    fake.send({ Event: 'QueueMemberPaused', Privilege: 'agent,all', Queue: 'support', Location: 'SIP/1002', MemberName: 'Agent 1002', Paused: '1', Reason: 'lunch' });
    await waitFor(async () => (await log()).some((event) => event.type === 'agent.status_changed'), 15_000, 'the pause');
    const calls = (await log()).filter((event) => !event.type.startsWith('source.'));
    expect(calls.map((event) => [event.type, event.data.call_id ?? event.data.agent])).toEqual([
      ['call.queued', '1323364563.10'], ['call.offered', '1323364563.10'], ['call.abandoned', '1323364563.10'], ['agent.status_changed', 'Agent 1002'],
    ]);
    expect(calls[0]!.data).toMatchObject({ queue: 'support', position: 2, caller_name: 'Müller' });
    expect(calls[1]!.data).toMatchObject({ agent: 'Agent 1002', queue: 'support' });
    expect(calls[2]!.data).toMatchObject({ reason: 'caller_hungup', reason_raw: 'QueueCallerAbandon', wait_s: 31, position: 1, original_position: 2 });
    expect(calls[3]!.data).toEqual({ agent: 'Agent 1002', status: 'not_ready', status_raw: 'paused', reason: 'lunch', queues: ['support'] });
  });

  it('routes QueueStatus answers by ActionID while events interleave, and corrects agents on reconnect', async () => {
    const { fake, log } = await setup({}, (peer) => {
      peer.queueStatus = [
        { Event: 'QueueParams', Queue: 'sales', Max: '0', Strategy: 'rrmemory', Calls: '1', Holdtime: '12', TalkTime: '95', Completed: '10', Abandoned: '2', ServiceLevel: '60', ServicelevelPerf: '80.0', ServicelevelPerf2: '75.0', Weight: '0' },
        { Event: 'QueueMember', Queue: 'sales', MemberName: 'Agent 1002', Interface: 'PJSIP/1002', StateInterface: 'PJSIP/1002', Membership: 'dynamic', Penalty: '0', CallsTaken: '3', LastCall: '0', LastPause: '0', LoginTime: '1795250000', InCall: '0', Status: '1', Paused: '0', PausedReason: '', Wrapuptime: '0' },
        { Event: 'QueueMember', Queue: 'sales', Name: 'Agent 1003', Location: 'PJSIP/1003', Membership: 'static', Penalty: '0', CallsTaken: '0', LastCall: '0', Status: '5', Paused: '0' },
        { Event: 'QueueEntry', Queue: 'sales', Position: '1', Channel: 'PJSIP/trunk-00000020', Uniqueid: '1795255300.30', CallerIDNum: '4930123456', CallerIDName: 'Müller', ConnectedLineNum: '<unknown>', ConnectedLineName: '<unknown>', Wait: '12', Priority: '0' },
      ];
      // Asterisk keeps sending other events while it answers the list.
      peer.interleave = [
        { Event: 'QueueMemberStatus', Privilege: 'agent,all', Queue: 'support', Interface: 'PJSIP/1009', MemberName: 'Agent 1009', Status: '2', Paused: '0' },
        { Event: 'QueueCallerJoin', Privilege: 'agent,all', ...caller, Uniqueid: '1795255301.31', Linkedid: '1795255301.31', Queue: 'support', Position: '1', Count: '1' },
      ];
    });
    await fake.waitForLogin();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    let all = await log();
    expect(all.filter((event) => event.type === 'source.resynced').map((event) => event.data)).toEqual([
      { source: 'pbx2', kind: 'asterisk', reason: 'connected', agents: 2, queues: 1, waiting: 1, corrected: 2 },
    ]);
    const statuses = () => all.filter((event) => event.type === 'agent.status_changed').map((event) => [event.data.agent, event.data.status]);
    expect(statuses()).toEqual(expect.arrayContaining([['Agent 1009', 'busy'], ['Agent 1002', 'available'], ['Agent 1003', 'offline']]));
    // The caller waiting at the resync is reported queued, since 12 s before it (QueueEntry's Wait).
    const queued = all.filter((event) => event.type === 'call.queued');
    expect(queued.map((event) => event.data.call_id).sort()).toEqual(['1795255300.30', '1795255301.31']);
    const waiting = queued.find((event) => event.data.call_id === '1795255300.30')!;
    expect(waiting.data).toMatchObject({ queue: 'sales', caller_id: '4930123456', caller_name: 'Müller', position: 1 });
    expect(Date.parse(waiting.time) - Date.parse(String(waiting.data.queued_at))).toBe(12_000);

    fake.drop();
    fake.interleave = [];
    fake.queueStatus = fake.queueStatus.map((item) => (item.MemberName === 'Agent 1002' ? { ...item, Paused: '1', PausedReason: 'break', LastPause: '1795255400' } : item));
    await fake.waitForLogin(2);
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 2, 15_000, 'the resync after the reconnect');
    all = await log();
    expect(all.filter((event) => event.type === 'source.gap').map((event) => event.data)).toEqual([
      expect.objectContaining({ source: 'pbx2', kind: 'asterisk', reason: 'disconnected' }),
    ]);
    // Agent 1002 paused meanwhile; Agent 1009, heard of between the sessions, is in no queue the PBX lists: offline.
    expect(all.filter((event) => event.type === 'source.resynced').at(-1)!.data).toMatchObject({ reason: 'reconnected', corrected: 2 });
    expect(statuses().slice(-2)).toEqual([['Agent 1002', 'not_ready'], ['Agent 1009', 'offline']]);
  });

  it('reports a refused login, and counts and skips malformed messages while the connection stays up', async () => {
    const refused = await setup({ secret: 'not-the-secret' });
    await waitFor(() => refused.fake.connections >= 2, 15_000, 'a retry');
    const ready = (await (await fetch(`${refused.hub.url}/readyz`)).json()) as { status: string; warnings: string[] };
    expect(ready.status).toBe('ready');
    expect(ready.warnings.join(' ')).toMatch(/source pbx2 .* is not connected: authentication failed \(Authentication failed\)/);
    // The refused key was computed from the configured secret: the peer checked md5(challenge + secret).
    const login = refused.fake.actions.find((action) => action.Action === 'Login')!;
    expect(login.Key).not.toBe(createHash('md5').update('not-the-secret').digest('hex'));
    expect(login).not.toHaveProperty('Secret');

    const { fake, log, metric, hub } = await setup();
    await fake.waitForLogin();
    fake.raw('Garbage without any colon\r\nStill: no event or response\r\n\r\n');
    fake.send({ Event: 'QueueMemberPause', Privilege: 'agent,all', Queue: 'sales', Interface: 'PJSIP/1002', MemberName: 'Agent 1002', Paused: '1', PausedReason: 'coffee' });
    await waitFor(async () => (await log()).some((event) => event.type === 'agent.status_changed'), 15_000, 'the event after the bad message');
    expect(await metric('switchboard_source_parse_errors_total')).toBe(1);
    expect(fake.connections).toBe(1);
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });
});
