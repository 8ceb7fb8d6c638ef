import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { Hub } from '../src/hub.js';
import { decodeEvent, EslParser, type EslFrame } from '../src/sources/freeswitch/parser.js';
import { deriveDisposition } from '../src/sources/freeswitch/map.js';
import { callcenterEvent, customerChannel, eventFrame, eventHeaders, startFakeFreeswitch, type FakeFreeswitch } from './helpers/fake-freeswitch.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';
import { startReceiver } from './helpers/receiver.js';
import { connectClient, freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/esl/${name}`, import.meta.url));

function frames(chunks: Buffer[]): EslFrame[] {
  const parser = new EslParser();
  const out: EslFrame[] = [];
  for (const chunk of chunks) parser.push(chunk, (frame) => out.push(frame));
  return out;
}

describe('Event Socket framing', () => {
  const offering = fixture('agent-offering.json.txt');
  const hangup = fixture('hangup-complete.plain.txt');
  const replies = Buffer.from('Content-Type: command/reply\nReply-Text: +OK accepted\n\nContent-Type: api/response\nContent-Length: 37\n\n6e4a6b0e-9d6a-4b8a-8f1a-2d7b6a9c0f11\n');

  it('reads frames joined in one chunk, and the same bytes split anywhere, identically', () => {
    const stream = Buffer.concat([replies, offering, hangup]);
    const whole = frames([stream]);
    expect(whole.map((frame) => frame.headers['Content-Type'])).toEqual(['command/reply', 'api/response', 'text/event-json', 'text/event-plain']);
    expect(whole[1]!.body).toBe('6e4a6b0e-9d6a-4b8a-8f1a-2d7b6a9c0f11\n');
    const byteByByte = frames([...stream].map((byte) => Buffer.from([byte])));
    expect(byteByByte).toEqual(whole);
    for (const cut of [1, 17, replies.length + 40, replies.length + offering.length - 3, stream.length - 1]) {
      expect(frames([stream.subarray(0, cut), stream.subarray(cut)])).toEqual(whole);
    }
  });

  it('counts Content-Length in bytes: a multi-byte UTF-8 body is read whole, and the next frame is intact', () => {
    const [event, next] = frames([Buffer.concat([offering, replies.subarray(0, 54)])]);
    expect(decodeEvent(event!)['CC-Member-CID-Name']).toBe('José Müller — 北京');
    expect(next!.headers['Reply-Text']).toBe('+OK accepted');
  });

  it('URL-decodes text/event-plain values; JSON values are taken as they are', () => {
    const [plain] = frames([hangup]);
    const event = decodeEvent(plain!);
    expect(event['Event-Date-Local']).toBe('2026-11-21 10:02:05');
    expect(event['Caller-Caller-ID-Name']).toBe('José Müller');
    expect(event['FreeSWITCH-IPv6']).toBe('::1');
    expect(event.variable_sip_from_display).toBe('Jos%C3%A9');
    const json = decodeEvent({ headers: { 'Content-Type': 'text/event-json' }, body: '{"Event-Date-Local":"2026-11-21 10%3A02"}' });
    expect(json['Event-Date-Local']).toBe('2026-11-21 10%3A02');
  });

  it('refuses broken framing, and reports a malformed event body without losing the stream', () => {
    expect(() => frames([Buffer.from('Content-Type: text/event-json\nContent-Length: -5\n\n')])).toThrow(/invalid Content-Length/);
    expect(() => frames([Buffer.alloc(70 * 1024, 0x41)])).toThrow(/header block longer/);
    const [bad, good] = frames([Buffer.from('Content-Type: text/event-json\nContent-Length: 6\n\n{"a":1Content-Type: command/reply\nReply-Text: +OK\n\n')]);
    expect(() => decodeEvent(bad!)).toThrow(SyntaxError);
    expect(good!.headers['Reply-Text']).toBe('+OK');
  });
});

describe('CDR disposition', () => {
  it('derives the disposition from billsec, Q.850 cause, who hung up, queue abandonment and AMD', () => {
    const base = { billsec: 0, q850: undefined, hangupDisposition: undefined, abandonedInQueue: false, agent: undefined, machine: false };
    expect(deriveDisposition({ ...base, q850: 17 })).toBe('busy');
    expect(deriveDisposition({ ...base, q850: 19 })).toBe('no_answer');
    expect(deriveDisposition({ ...base, q850: 21 })).toBe('rejected');
    expect(deriveDisposition({ ...base, q850: 487 })).toBe('cancelled');
    expect(deriveDisposition({ ...base, q850: 1 })).toBe('error');
    expect(deriveDisposition({ ...base, q850: 41 })).toBe('failed');
    expect(deriveDisposition({ ...base, billsec: 30, agent: '1002', hangupDisposition: 'recv_bye', q850: 16 })).toBe('callee_hungup');
    expect(deriveDisposition({ ...base, billsec: 30, agent: '1002', hangupDisposition: 'send_bye', q850: 16 })).toBe('agent_hungup');
    expect(deriveDisposition({ ...base, billsec: 30, abandonedInQueue: true, q850: 16 })).toBe('abandoned');
    expect(deriveDisposition({ ...base, billsec: 12, machine: true })).toBe('machine');
    expect(deriveDisposition({ ...base, billsec: 12 })).toBe('answered');
  });
});

type Client = Awaited<ReturnType<typeof connectClient>>;
interface LoggedEvent {
  id: string;
  type: string;
  source?: string;
  scope?: Record<string, string>;
  data: Record<string, unknown>;
}

describe('FreeSWITCH source (loopback Event Socket peer)', () => {
  let redis: TestRedis;
  let client: Client;
  const hubs: Hub[] = [];
  const fakes: FakeFreeswitch[] = [];

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

  async function setup(source: Record<string, unknown> = {}, prepare: (fake: FakeFreeswitch) => void = () => {}) {
    const fake = await startFakeFreeswitch();
    prepare(fake);
    fakes.push(fake);
    const keyPrefix = `fs${Math.random().toString(36).slice(2, 8)}`;
    const hub = await startHub(redis.url, {
      keyPrefix,
      webhooks: { allowPrivateTargets: true },
      sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: fake.port, reconnectInitialMs: 50, reconnectMaxMs: 400, cdrSettleMs: 200, ...source }],
    });
    hubs.push(hub);
    const log = async (): Promise<LoggedEvent[]> =>
      (await client.xRange(hub.context.keys.eventLog, '-', '+'))!.map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    const ofType = async (type: string) => (await log()).filter((event) => event.type === type);
    const readyz = async () => (await (await fetch(`${hub.url}/readyz`)).json()) as { status: string; warnings?: string[]; checks: { name: string; sources?: Record<string, unknown>[] }[] };
    const metric = async (name: string) => {
      const text = await (await fetch(`${hub.url}/metrics`)).text();
      return Number(text.match(new RegExp(`^${name}\\{source="fs1"\\} (\\S+)$`, 'm'))?.[1] ?? NaN);
    };
    return { fake, hub, log, ofType, readyz, metric };
  }

  const CORE = '6e4a6b0e-9d6a-4b8a-8f1a-2d7b6a9c0f11';
  const SESSION = '4dbd89c2-8e54-43a6-a0b4-a7d26b09ae6c';
  const MEMBER = '33e7df24-133c-47c1-9aec-b985d507d43e';
  const AGENT = 'tenant-1@areski';
  const QUEUE = 'tenant-1@areski-queue';
  const member = { 'CC-Queue': QUEUE, 'CC-Member-UUID': MEMBER, 'CC-Member-Session-UUID': SESSION, 'CC-Member-CID-Name': 'Outbound Call', 'CC-Member-CID-Number': '34650110022' };
  const dialler = { callrequest_id: '276547', campaign_id: '295' };

  /** A served queued call, as mod_callcenter and the core fire it, from Event-Sequence `first` on. */
  function queuedCall(first: number, core = CORE): Record<string, string>[] {
    // The variables mod_callcenter sets on each leg (docs/sources.md, "One record per call").
    const agentLeg: Record<string, string> = { ...customerChannel('a9e2b6f4-0c1d-4e2f-9a3b-5c6d7e8f9012', { cc_side: 'agent', cc_queue: QUEUE, cc_agent: AGENT, cc_agent_type: 'callback', cc_member_uuid: MEMBER, cc_member_session_uuid: SESSION }), 'Call-Direction': 'outbound' };
    return [
      callcenterEvent(core, first, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }),
      callcenterEvent(core, first + 1, { ...member, 'CC-Action': 'member-queue-start', ...customerChannel(SESSION, { ...dialler, cc_side: 'member', cc_queue: QUEUE, cc_queue_joined_epoch: '1795255200' }) }),
      callcenterEvent(core, first + 2, { ...member, 'CC-Action': 'agent-offering', 'CC-Agent': AGENT, 'CC-Agent-Type': 'callback', 'CC-Agent-System': 'single_box', 'CC-Member-DNIS': '8000' }),
      callcenterEvent(core, first + 3, { ...member, 'CC-Action': 'bridge-agent-start', 'CC-Agent': AGENT, 'CC-Agent-System': 'single_box', 'CC-Agent-UUID': agentLeg['Unique-ID']!, 'CC-Agent-Called-Time': '1795255205', 'CC-Agent-Answered-Time': '1795255210', 'CC-Member-Joined-Time': '1795255200', ...agentLeg }),
      callcenterEvent(core, first + 4, { ...member, 'CC-Action': 'bridge-agent-end', 'CC-Hangup-Cause': 'NORMAL_CLEARING', 'CC-Agent': AGENT, 'CC-Agent-System': 'single_box', 'CC-Agent-Called-Time': '1795255205', 'CC-Agent-Answered-Time': '1795255210', 'CC-Member-Joined-Time': '1795255200', 'CC-Bridge-Terminated-Time': '1795255325', ...agentLeg, variable_sip_hangup_disposition: 'send_bye' }),
      callcenterEvent(core, first + 5, { ...member, 'CC-Action': 'member-queue-end', 'CC-Hangup-Cause': 'NORMAL_CLEARING', 'CC-Cause': 'Terminated', 'CC-Agent': AGENT, 'CC-Member-Joined-Time': '1795255200', 'CC-Member-Leaving-Time': '1795255325', ...customerChannel(SESSION, dialler) }),
      { ...eventHeaders(core, first + 6, 'CHANNEL_HANGUP_COMPLETE'), 'Hangup-Cause': 'NORMAL_CLEARING', ...customerChannel(SESSION, { ...dialler, cc_side: 'member', cc_member_uuid: MEMBER, cc_queue: QUEUE, cc_queue_joined_epoch: '1795255200', cc_agent: AGENT, cc_agent_uuid: agentLeg['Unique-ID']!, cc_queue_answered_epoch: '1795255210', cc_queue_terminated_epoch: '1795255325', cc_cause: 'answered', hangup_cause_q850: '16', sip_term_status: '200', sip_hangup_disposition: 'recv_bye', start_epoch: '1795255195', answer_epoch: '1795255200', end_epoch: '1795255325', duration: '130', billsec: '125', hold_accum_seconds: '0' }) },
      { ...eventHeaders(core, first + 7, 'CHANNEL_HANGUP_COMPLETE'), 'Hangup-Cause': 'NORMAL_CLEARING', ...agentLeg, variable_start_epoch: '1795255205', variable_answer_epoch: '1795255210', variable_end_epoch: '1795255325', variable_billsec: '115' },
    ];
  }

  it("turns the CC-* headers of docs/contracts/newfies.md's example and variables into the same callcenter_events payload", async () => {
    const { fake, ofType } = await setup();
    const subscriber = await connectClient(redis.url);
    const messages: string[] = [];
    await subscriber.subscribe('callcenter_events', (message) => messages.push(message));
    await fake.waitForSubscriber();
    const [status, queued, offering] = queuedCall(500);
    for (const event of [status!, queued!, offering!]) fake.send(event);
    fake.send(callcenterEvent(CORE, 503, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Logged Out' }));
    await waitFor(() => messages.length >= 3, 15_000, 'three callcenter_events messages');
    expect(messages[1]).toBe(
      '{"Offering-Call-Agent:" : {"callrequest_id": "276547", "CC_Agent": "tenant-1@areski", "campaign_id": "295", "CC_Member_CID_Name": "Outbound Call", "CC_Agent_System": "single_box", "phonenumber": "34650844400", "callerid_number": "34650844400", "CC_Member_Session_UUID": "4dbd89c2-8e54-43a6-a0b4-a7d26b09ae6c", "CC_Member_UUID": "33e7df24-133c-47c1-9aec-b985d507d43e", "CC_Member_CID_Number": "34650110022", "CC_Queue": "tenant-1@areski-queue"}}',
    );
    expect(messages[2]).toBe('{"Agent-Status-Change:" : {"CC_Agent": "tenant-1@areski", "CC_Agent_Status": "Logged Out"}}');
    expect(fake.commands.slice(0, 3)).toEqual(['auth ClueCon', 'event json CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE', 'api global_getvar core_uuid']);
    const offered = await ofType('call.offered');
    expect(offered).toEqual([expect.objectContaining({ id: `fs:${CORE}:502`, source: 'fs1' })]);
    await subscriber.quit();
  });

  it('carries a full queued call to Newfies, Enigma (notifications and the CDR list) and a cdr webhook, once each', async () => {
    const receiver = await startReceiver();
    const { fake, hub, log, metric } = await setup({ scope: { reseller: 'r1', domain: 'acme.example' } });
    const created = await fetch(`${hub.url}/v1/subscriptions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'cdr', 'post-url': receiver.url, domain: 'acme.example' }),
    });
    expect(created.status).toBe(200);
    const subscriber = await connectClient(redis.url);
    const newfies: string[] = [];
    const enigma: { channel: string; message: string }[] = [];
    await subscriber.subscribe('callcenter_events', (message) => newfies.push(message));
    await subscriber.pSubscribe('enigma:notifications:agents:*', (message, channel) => enigma.push({ channel, message }));
    await fake.waitForSubscriber();
    const events = queuedCall(1000);
    for (const event of events) fake.send(event);
    // The same event re-sent (as after a reconnect) is deduplicated.
    fake.send(events[6]!);

    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the CDR in the log');
    await receiver.waitFor(() => receiver.delivered().length >= 1);
    const types = (await log()).filter((event) => !event.type.startsWith('source.')).map((event) => event.type);
    expect(types).toEqual(['agent.status_changed', 'call.queued', 'call.offered', 'call.connected', 'call.ended', 'cdr.created']);
    const byType = Object.fromEntries((await log()).map((event) => [event.type, event]));
    expect(byType['call.queued']).toMatchObject({ scope: { reseller: 'r1', domain: 'acme.example' }, data: { call_id: '276547', campaign: '295', queue: QUEUE, number: '34650844400', queued_at: '2026-11-21T10:00:00.000Z' } });
    // mod_callcenter's own wait (answered − joined), so a hub that missed member-queue-start still counts it.
    expect(byType['call.connected']).toMatchObject({ data: { call_id: '276547', agent: AGENT, wait_s: 10 } });
    expect(byType['call.ended']).toMatchObject({ id: `fs:${CORE}:ended:${MEMBER}`, data: { call_id: '276547', agent: AGENT, talk_s: 115, wait_s: 10, ended_by: 'caller', cause: 'NORMAL_CLEARING' } });
    expect(byType['cdr.created']!.data).toEqual({
      call_id: '276547', number: '34650844400', direction: 'outbound', dialed_at: '2026-11-21T09:59:55.000Z', disposition: 'callee_hungup', agent: AGENT, campaign: '295', queue: QUEUE,
      // One record for the call's two legs: answered when the agent answered, talk from then to the bridge's end.
      dial_number: '34650110022', answered_at: '2026-11-21T10:00:10.000Z', ended_at: '2026-11-21T10:02:05.000Z', duration_s: 130, wait_s: 10, talk_s: 115, hold_s: 0, q850_cause: 16, sip_code: 200,
    });

    await waitFor(() => newfies.length >= 3, 15_000, 'Newfies messages');
    expect(newfies.map((message) => Object.keys(JSON.parse(message))[0])).toEqual(['Agent-Status-Change:', 'Offering-Call-Agent:', 'Connected-Call-Agent:']);
    await waitFor(() => enigma.length >= 2, 15_000, 'Enigma notifications');
    expect(enigma).toEqual([
      { channel: `enigma:notifications:agents:${AGENT}`, message: '{"type":"status","payload":{"status":"available","campaign_ref":null,"ref":null}}' },
      { channel: `enigma:notifications:agents:${AGENT}`, message: `{"type":"call","payload":{"call_ref":"276547","agent":"${AGENT}","contact_ref":null,"number":"34650844400","ref":null}}` },
    ]);
    const cdr = await client.brPop('enigma:notifications:campaigns', 5);
    expect(JSON.parse(cdr!.element)).toEqual({
      type: 'cdr',
      payload: { extension: AGENT, call_ref: '276547', contact_ref: null, dialed_at: '2026-11-21T09:59:55.000Z', end_reason: 'callee_hungup', end_code: 16, call_time: 130, call_dir: 'outbound', recording_url: null, ref: '295', number: '34650844400', dial_number: '34650110022' },
    });
    expect(await client.lLen('enigma:notifications:campaigns')).toBe(0);
    const posted = receiver.delivered();
    expect(posted).toHaveLength(1);
    expect(posted[0]).toMatchObject({ model: 'cdr', type: 'cdr.created', source: 'fs1', data: { call_id: '276547', disposition: 'callee_hungup' } });

    expect(await metric('switchboard_source_events_in_total')).toBe(9);
    // Both hangups are legs of the call record (the agent's was ignored when each channel made its own CDR).
    expect(await metric('switchboard_source_events_mapped_total')).toBe(9);
    expect(await metric('switchboard_source_events_ignored_total')).toBe(0);
    await subscriber.quit();
    await receiver.close();
  });

  it('survives a socket drop mid-call: reconnects, resyncs, and logs every event once, in order', async () => {
    const { fake, log, readyz } = await setup({}, (peer) => {
      peer.agents = [{ name: AGENT, status: 'Available', lastStatusChange: 1795255100 }, { name: '1003@default', status: 'On Break', lastStatusChange: 1795255150 }];
    });
    await fake.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const events = queuedCall(2000);
    for (const event of events.slice(0, 3)) fake.send(event);
    await waitFor(async () => (await log()).some((event) => event.type === 'call.offered'), 15_000, 'the offer');
    // Half of the next frame, then the network fails.
    const half = Buffer.from(eventFrame(events[3]!, 'json'));
    fake.raw(half.subarray(0, Math.floor(half.length / 2)));
    await new Promise((resolve) => setTimeout(resolve, 50));
    fake.drop();
    // Meanwhile agent 1003 came back from break: only a resync can tell.
    fake.agents[1] = { name: '1003@default', status: 'Available', lastStatusChange: 1795255300 };
    await fake.waitForSubscriber(2);
    // FreeSWITCH re-sends nothing by itself; a peer that does (or a second hub hearing it) is deduplicated.
    for (const event of events.slice(2)) fake.send(event);
    // The reconnect's resync answers while these events arrive: wait for both, in whichever order.
    await waitFor(
      async () => {
        const logged = await log();
        return logged.some((event) => event.type === 'cdr.created') && logged.filter((event) => event.type === 'source.resynced').length >= 2;
      },
      15_000,
      'the CDR and the second resync',
    );

    const all = await log();
    const callTypes = all.filter((event) => event.type.startsWith('call.') || event.type === 'cdr.created').map((event) => event.type);
    expect(callTypes).toEqual(['call.queued', 'call.offered', 'call.connected', 'call.ended', 'cdr.created']);
    expect(new Set(all.map((event) => event.id)).size).toBe(all.length);
    const resyncs = all.filter((event) => event.type === 'source.resynced').map((event) => event.data);
    expect(resyncs).toEqual([
      expect.objectContaining({ reason: 'connected', agents: 2, corrected: 2 }),
      expect.objectContaining({ reason: 'reconnected', agents: 2, corrected: 1 }),
    ]);
    expect(all.filter((event) => event.type === 'source.gap').map((event) => event.data)).toEqual([
      expect.objectContaining({ source: 'fs1', kind: 'freeswitch', reason: 'disconnected', disconnected_ms: expect.any(Number) }),
    ]);
    const statuses = all.filter((event) => event.type === 'agent.status_changed').map((event) => [event.data.agent, event.data.status]);
    // The first resync seeds both agents; FreeSWITCH's own status event follows; the second resync corrects 1003 only.
    expect(statuses.filter(([agent]) => agent === '1003@default')).toEqual([['1003@default', 'on_break'], ['1003@default', 'available']]);
    // The call's end starts the agent's wrap-up (the agent list's wrap_up_time, 10 s), over 10 s after the bridge ended.
    expect(statuses.filter(([agent]) => agent === AGENT)).toEqual([[AGENT, 'available'], [AGENT, 'available'], [AGENT, 'wrapup'], [AGENT, 'available']]);
    const report = await readyz();
    expect(report.status).toBe('ready');
    expect(report.checks.find((check) => check.name === 'sources')?.sources).toEqual([
      expect.objectContaining({ name: 'source:fs1', connected: true, reconnects: 1, lastEventAgeMs: expect.any(Number) }),
    ]);
  });

  it("a wrap-up's end, published on its timer, is what the next resync compares with: no second `available`", async () => {
    // FreeSWITCH's agent list as mod_callcenter keeps it: Logged Out, then Available from the status event on (wrap_up_time 10).
    const { fake, log } = await setup({}, (peer) => {
      peer.agents = [{ name: AGENT, status: 'Logged Out', lastStatusChange: 1795255100 }];
    });
    await fake.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const call = queuedCall(4000);
    // The bridge ended 4 s ago: the 10 s wrap-up ends 5–6 s from now, on the source's timer.
    const bridgeEndedS = Math.floor(Date.now() / 1000) - 4;
    call[4] = { ...call[4]!, 'CC-Bridge-Terminated-Time': String(bridgeEndedS) };
    const wrapupEndMs = (bridgeEndedS + 10) * 1000;
    fake.agents = [{ name: AGENT, status: 'Available', lastStatusChange: 1795255200 }];
    for (const event of call) fake.send(event);
    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the call and its record');
    const statusesOf = async () => (await log()).filter((event) => event.type === 'agent.status_changed' && event.data.agent === AGENT);
    expect((await statusesOf()).map((event) => event.data.status)).toEqual(['offline', 'available', 'wrapup']);

    // A resync while the wrap-up runs: the list's `Available` is the wrap-up (docs/live.md), not a change.
    fake.drop();
    await fake.waitForSubscriber(2);
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 2, 15_000, 'the resync during the wrap-up');
    await waitFor(async () => (await statusesOf()).length >= 4, 15_000, "the wrap-up's end");
    // A resync after the end: the list still says Available, which is what the source last published.
    fake.drop();
    await fake.waitForSubscriber(3);
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 3, 15_000, 'the resync after the wrap-up');

    const all = await log();
    const order = all.filter((event) => event.type === 'source.resynced' || (event.type === 'agent.status_changed' && event.data.agent === AGENT));
    expect(order.map((event) => [event.type, event.id])).toEqual([
      ['agent.status_changed', `fs:${CORE}:agent:${AGENT}:1795255100`],
      ['source.resynced', expect.any(String)],
      ['agent.status_changed', `fs:${CORE}:4000`],
      ['agent.status_changed', `fs:${CORE}:ended:${MEMBER}:wrapup`],
      ['source.resynced', expect.any(String)],
      ['agent.status_changed', `fs:${CORE}:wrapup-end:${AGENT}:${wrapupEndMs}`],
      ['source.resynced', expect.any(String)],
    ]);
    expect((await statusesOf()).map((event) => event.data)).toEqual([
      { agent: AGENT, status: 'offline', status_raw: 'Logged Out' },
      { agent: AGENT, status: 'available', status_raw: 'Available' },
      { agent: AGENT, status: 'wrapup', status_raw: 'wrap_up_time' },
      { agent: AGENT, status: 'available', status_raw: 'Waiting' },
    ]);
    expect(all.filter((event) => event.type === 'source.resynced').map((event) => [event.data.reason, event.data.agents, event.data.corrected])).toEqual([
      ['connected', 1, 1],
      ['reconnected', 1, 0],
      ['reconnected', 1, 0],
    ]);
  });

  it('reports the callers already waiting at the first resync as queued (live waiting counts them), once', async () => {
    const waitingSession = '7a1c2e4b-0000-4000-8000-00000000a001';
    // Joined a minute ago: today's caller (live state keeps only today's).
    const joinedEpoch = Math.floor(Date.now() / 1000) - 60;
    const joinedAt = new Date(joinedEpoch * 1000).toISOString();
    const { fake, log, hub } = await setup({}, (peer) => {
      peer.members = [
        { queue: QUEUE, uuid: 'b1d2-member-waiting', sessionUuid: waitingSession, state: 'Waiting', joinedEpoch },
        { queue: QUEUE, uuid: 'b1d2-member-answered', sessionUuid: '7a1c2e4b-0000-4000-8000-00000000a002', state: 'Answered' },
      ];
    });
    await fake.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    const queued = (await log()).filter((event) => event.type === 'call.queued');
    expect(queued).toEqual([
      expect.objectContaining({
        id: `fs:${CORE}:waiting:${waitingSession}:${QUEUE}`,
        data: { call_id: waitingSession, queue: QUEUE, caller_id: '34650110022', caller_name: 'Outbound Call', member_uuid: 'b1d2-member-waiting', member_session_uuid: waitingSession, queued_at: joinedAt },
      }),
    ]);
    expect((await log()).find((event) => event.type === 'source.resynced')!.data).toMatchObject({ waiting: 1 });
    const live = async () => {
      const response = await fetch(`${hub.url}/v1/live/queues`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      // 503 LIVE_REBUILDING while the projection replays the log after the start.
      if (response.status !== 200) return undefined;
      return ((await response.json()) as { queues: { queue: string; waiting: number; longest_wait_since: string }[] }).queues.find((entry) => entry.queue === QUEUE);
    };
    await waitFor(async () => (await live())?.waiting === 1, 15_000, 'the caller waiting in live state');
    expect((await live())!.longest_wait_since).toBe(joinedAt);
    // A reconnect finds the same caller waiting: already known, not reported again.
    fake.drop();
    await fake.waitForSubscriber(2);
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 2, 15_000, 'the second resync');
    expect((await log()).filter((event) => event.type === 'call.queued')).toHaveLength(1);
  });

  it('notices a FreeSWITCH restart (new Core-UUID) and resyncs', async () => {
    const { fake, log } = await setup({}, (peer) => {
      peer.agents = [{ name: AGENT, status: 'Available', lastStatusChange: 1795255100 }];
    });
    await fake.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    fake.send(callcenterEvent(CORE, 10, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }));
    await waitFor(async () => (await log()).some((event) => event.type === 'agent.status_changed'));
    fake.drop();
    fake.coreUuid = '0b9d3c2e-7f41-4f0a-b1c2-8e7d6c5b4a39';
    fake.agents = [{ name: AGENT, status: 'Logged Out', lastStatusChange: 1795255400 }];
    await fake.waitForSubscriber(2);
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 2, 15_000, 'the second resync');
    const all = await log();
    expect(all.filter((event) => event.type === 'source.gap').map((event) => event.data)).toEqual([
      expect.objectContaining({ reason: 'restarted', core_uuid: fake.coreUuid }),
    ]);
    expect(all.filter((event) => event.type === 'source.resynced').map((event) => event.data.reason)).toEqual(['connected', 'restarted']);
    expect(all.filter((event) => event.type === 'agent.status_changed').map((event) => event.data.status)).toEqual(['available', 'available', 'offline']);
  });

  it('reports a wrong password in /readyz and the log, retries with a capped backoff, and never logs the password', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info', redact: { paths: ['*.password', '*.secret'], censor: '[redacted]' } }, new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const fake = await startFakeFreeswitch({ password: 'the-right-one' });
    fakes.push(fake);
    const config = parseConfig({
      dataDir: tempDir('switchboard-data-'), logLevel: 'info', keyPrefix: 'fsauth', http: { port: 0 }, redis: { url: redis.url }, auth: { apiToken: TEST_TOKEN },
      sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: fake.port, password: 'wrong-secret-pw', reconnectInitialMs: 100, reconnectMaxMs: 800 }],
    });
    const started = Date.now();
    const hub = await Hub.start(Object.freeze(config), { logger });
    hubs.push(hub);
    await waitFor(() => fake.connections >= 4, 15_000, 'four attempts');
    const elapsed = Date.now() - started;
    const ready = (await (await fetch(`${hub.url}/readyz`)).json()) as { status: string; warnings: string[] };
    expect(ready.status).toBe('ready');
    expect(ready.warnings.join(' ')).toMatch(/source fs1 .* is not connected: authentication failed \(-ERR invalid\)/);
    // Delays 50–100, 100–200, 200–400 ms: at least 350 ms for four attempts; and no more attempts than the backoff allows.
    expect(elapsed).toBeGreaterThanOrEqual(350);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(fake.connections).toBeLessThanOrEqual(4 + Math.ceil((Date.now() - started - elapsed) / 400) + 1);
    const text = lines.join('');
    expect(text).toMatch(/authentication failed/);
    expect(text).not.toContain('wrong-secret-pw');
    // One line for the failure, not one per attempt.
    expect(lines.filter((line) => line.includes('authentication failed'))).toHaveLength(1);
  });

  it('counts and skips malformed frames; a framing error drops and re-establishes the connection; the hub stays up', async () => {
    const { fake, hub, log, metric } = await setup({ format: 'plain' });
    await fake.waitForSubscriber();
    expect(fake.commands[1]).toBe('event plain CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE');
    fake.raw('Content-Length: 9\nContent-Type: text/event-plain\n\nBad: %ZZ\n');
    fake.raw('Content-Length: 6\nContent-Type: text/event-json\n\n{"a":1');
    fake.raw(fixture('hangup-complete.plain.txt'));
    await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the CDR after two bad frames');
    expect(fake.connections).toBe(1);
    expect(await metric('switchboard_source_parse_errors_total')).toBe(2);
    const [cdr] = (await log()).filter((event) => event.type === 'cdr.created');
    // One record per call, keyed by the caller's channel; talk runs from the agent's answer (cc_queue_answered_epoch), not the channel's.
    expect(cdr).toMatchObject({ id: `fs:${CORE}:cdr:${SESSION}`, data: { call_id: '276547', disposition: 'callee_hungup', talk_s: 115, wait_s: 10, hold_s: 7, q850_cause: 16, sip_code: 200 } });

    fake.raw('Content-Type: text/event-plain\nContent-Length: lots\n\n');
    await fake.waitForSubscriber(2);
    expect(fake.connections).toBe(2);
    expect(await metric('switchboard_source_parse_errors_total')).toBe(3);
    fake.send(callcenterEvent(CORE, 3000, { 'CC-Agent': '1009@default', 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'On Break' }));
    await waitFor(async () => (await log()).some((event) => event.data.agent === '1009@default'), 15_000, 'an event after the reconnect');
    expect((await fetch(`${hub.url}/healthz`)).status).toBe(200);
  });

  it('keeps one source working while another PBX is unreachable, and reconnects after a disconnect notice', async () => {
    const fake = await startFakeFreeswitch();
    fakes.push(fake);
    const unreachable = await freePort();
    const both = await startHub(redis.url, {
      keyPrefix: `fs${Math.random().toString(36).slice(2, 8)}`,
      sources: [
        { type: 'freeswitch', name: 'fs-down', host: '127.0.0.1', port: unreachable, reconnectInitialMs: 50, reconnectMaxMs: 200 },
        { type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: fake.port, reconnectInitialMs: 50, reconnectMaxMs: 400 },
      ],
    });
    hubs.push(both);
    const events = async () => (await client.xRange(both.context.keys.eventLog, '-', '+'))!.map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    await fake.waitForSubscriber();
    fake.send(callcenterEvent(CORE, 7, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'On Break' }));
    await waitFor(async () => (await events()).some((event) => event.type === 'agent.status_changed' && event.source === 'fs1'), 15_000, 'fs1 events');
    const report = (await (await fetch(`${both.url}/readyz`)).json()) as { status: string; warnings: string[]; checks: { name: string; connected?: number; sources?: Record<string, unknown>[] }[] };
    expect(report.status).toBe('ready');
    expect(report.warnings.join(' ')).toMatch(/source fs-down \(freeswitch 127\.0\.0\.1:\d+\) is not connected: connection refused/);
    const sources = report.checks.find((check) => check.name === 'sources');
    expect(sources).toMatchObject({ connected: 1 });
    expect(sources?.sources?.map((source) => [source.name, source.connected])).toEqual([['source:fs-down', false], ['source:fs1', true]]);

    // FreeSWITCH says goodbye (e.g. `fsctl shutdown` or a listener killed for lost events): reconnect.
    fake.raw('Content-Type: text/disconnect-notice\nContent-Length: 67\n\nDisconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n');
    await fake.waitForSubscriber(2);
    await waitFor(async () => (await events()).some((event) => event.type === 'source.gap' && event.source === 'fs1'), 15_000, 'the gap after the notice');
  });

  it('reports a jump in Event-Sequence as a gap when subscribed to every event', async () => {
    const { fake, log } = await setup({ events: ['ALL'] });
    await fake.waitForSubscriber();
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 15_000, 'the first resync');
    fake.send(callcenterEvent(CORE, 100, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }));
    fake.send(eventHeaders(CORE, 101, 'HEARTBEAT'));
    fake.send(callcenterEvent(CORE, 105, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'On Break' }));
    await waitFor(async () => (await log()).filter((event) => event.type === 'source.resynced').length >= 2, 15_000, 'the gap resync');
    const all = await log();
    expect(all.filter((event) => event.type === 'source.gap').map((event) => event.data)).toEqual([
      expect.objectContaining({ reason: 'sequence_gap', missed: 3, last_seq: 101, next_seq: 105 }),
    ]);
    expect(all.filter((event) => event.type === 'source.resynced').map((event) => event.data.reason)).toEqual(['connected', 'sequence_gap']);
  });

  it('does not mistake the jumps of a narrow subscription for lost events', async () => {
    const { fake, log } = await setup();
    await fake.waitForSubscriber();
    fake.send(callcenterEvent(CORE, 100, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }));
    fake.send(callcenterEvent(CORE, 180, { 'CC-Agent': AGENT, 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'On Break' }));
    await waitFor(async () => (await log()).filter((event) => event.type === 'agent.status_changed').length >= 2);
    expect((await log()).filter((event) => event.type === 'source.gap')).toEqual([]);
  });
});
