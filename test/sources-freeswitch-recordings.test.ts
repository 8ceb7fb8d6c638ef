import { readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { callcenterEvent, eventHeaders, startFakeFreeswitch, type FakeFreeswitch } from './helpers/fake-freeswitch.js';
import { startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

type Client = Awaited<ReturnType<typeof connectClient>>;
type LoggedEvent = { id: string; type: string; time: string; source?: string; data: Record<string, unknown> };

/**
 * A recorded event as test/fixtures/README.md describes the files: one `Name: value` line per
 * header as FreeSWITCH printed it, values not URL-encoded, multi-line values (SDP) continuing on
 * the following lines. The framing undone here is the recorder's: its `RECV EVENT` banner, and the
 * terminal's scroll position (`[698/2075]`) at the end of some lines.
 */
function recordedEvent(name: string): Record<string, string> {
  const text = readFileSync(new URL(`./fixtures/freeswitch/${name}`, import.meta.url), 'utf8');
  const headers: Record<string, string> = {};
  let last: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s*\[\d+\/\d+\]\s*$/, '').trimEnd();
    if (line === 'RECV EVENT') continue;
    const header = line.match(/^([A-Za-z][\w-]*): (.*)$/);
    if (header) {
      last = header[1]!;
      headers[last] = header[2]!;
    } else if (last !== undefined) {
      headers[last] += `\n${line}`;
    }
  }
  return headers;
}

describe('FreeSWITCH source on recordings of real traffic and on mod_callcenter flows', () => {
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

  async function setup(source: Record<string, unknown> = {}) {
    const fake = await startFakeFreeswitch();
    fakes.push(fake);
    const hub = await startHub(redis.url, {
      keyPrefix: `fsr${Math.random().toString(36).slice(2, 8)}`,
      sources: [{ type: 'freeswitch', name: 'fs1', host: '127.0.0.1', port: fake.port, cdrSettleMs: 200, ...source }],
    });
    hubs.push(hub);
    const log = async (): Promise<LoggedEvent[]> =>
      (await client.xRange(hub.context.keys.eventLog, '-', '+'))!.map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    await fake.waitForSubscriber();
    return { fake, hub, log };
  }

  describe('a bridged call recorded on a FreeSWITCH SBC (libresbc, MIT): two legs, two CHANNEL_HANGUP_COMPLETE', () => {
    const A_LEG = '88b4673b-ad2c-4e8b-8fd6-4ad10aeb9ab0';
    const CORE = 'dfdcfeb2-5c24-4b48-a0ac-a778456d3339';
    // libresbc names its calls by the channel variable X-LIBRE-SESSIONID, exported to both legs.
    const variables = { callId: 'X-LIBRE-SESSIONID' };
    // FreeSWITCH fired the B-leg's hangup first (Event-Sequence 16122, then 16128).
    const recording = () => [recordedEvent('libresbc-bridged-call.b-leg.txt'), recordedEvent('libresbc-bridged-call.a-leg.txt')];

    it('makes one record for the call, keyed by the A-leg, with the caller leg’s numbers and causes and times spanning both legs', async () => {
      const { fake, hub, log } = await setup({ variables });
      for (const event of recording()) fake.send(event);
      await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the call record');
      // Both hangups were taken as legs of the call (none ignored).
      const metrics = await (await fetch(`${hub.url}/metrics`)).text();
      expect(metrics).toContain('switchboard_source_events_mapped_total{source="fs1"} 2');
      const records = (await log()).filter((event) => event.type === 'cdr.created');
      expect(records).toEqual([
        {
          id: `fs:${CORE}:cdr:${A_LEG}`,
          type: 'cdr.created',
          time: '2021-05-22T03:35:56.763Z',
          source: 'fs1',
          data: {
            call_id: '5a9100fa-38ca-4c37-b0d7-d02bf025c075',
            number: '33123456789',
            direction: 'inbound',
            dial_number: '33123456',
            dialed_at: '2021-05-22T03:35:52.000Z',
            answered_at: '2021-05-22T03:35:52.000Z',
            ended_at: '2021-05-22T03:35:56.000Z',
            duration_s: 4,
            talk_s: 4,
            hold_s: 0,
            disposition: 'answered',
            agent: null,
            q850_cause: 16,
            sip_code: 200,
          },
        },
      ]);
    });

    it('per_leg keeps one record per channel: the same call twice, as before', async () => {
      const { fake, log } = await setup({ variables, cdr: 'per_leg' });
      for (const event of recording()) fake.send(event);
      await waitFor(async () => (await log()).filter((event) => event.type === 'cdr.created').length === 2, 15_000, 'two records');
      const records = (await log()).filter((event) => event.type === 'cdr.created');
      expect(records.map((event) => [event.id, event.data.call_id, event.data.number, event.data.direction])).toEqual([
        [`fs:${CORE}:16122`, '5a9100fa-38ca-4c37-b0d7-d02bf025c075', '84987654321', 'outbound'],
        [`fs:${CORE}:16128`, '5a9100fa-38ca-4c37-b0d7-d02bf025c075', '33123456789', 'inbound'],
      ]);
    });
  });

  /*
   * No public recording of mod_callcenter traffic under a licence this project can include was
   * found (test/fixtures/README.md). These flows are built from the headers and channel variables
   * mod_callcenter.c fires and sets, as docs/sources.md ("FreeSWITCH: tested against") lists them.
   */
  describe('mod_callcenter flows (headers and variables as mod_callcenter.c sets them; not a recording)', () => {
    const CORE = '0c8f6d2e-3b1a-4c5d-9e7f-1a2b3c4d5e6f';
    const QUEUE = 'support@default';
    const ANSWERED = { session: '7f1c2d3e-4b5a-4c6d-8e9f-0a1b2c3d4e5f', member: 'e1d2c3b4-a5f6-4789-8abc-def012345678', agentLeg: '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d', ringLeg: '1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e' };
    const ABANDONED = { session: '2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d', member: 'f0e1d2c3-b4a5-4968-8776-655443322110', ringLeg: '3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e6f' };

    /** The caller's channel data (switch_channel_event_set_data) plus its variables. */
    function callerChannel(uuid: string, number: string, variables: Record<string, string>): Record<string, string> {
      const channel: Record<string, string> = {
        'Unique-ID': uuid,
        'Call-Direction': 'inbound',
        'Channel-Name': `sofia/internal/${number}@10.0.0.9`,
        'Caller-Caller-ID-Number': number,
        'Caller-Caller-ID-Name': 'Caller',
        'Caller-Destination-Number': '7000',
        variable_direction: 'inbound',
        variable_uuid: uuid,
      };
      for (const [name, value] of Object.entries(variables)) channel[`variable_${name}`] = value;
      return channel;
    }

    /** An agent leg mod_callcenter originated (callback agent): the originate variables of mod_callcenter.c. */
    function agentChannel(uuid: string, agent: string, memberSession: string, memberUuid: string, variables: Record<string, string>): Record<string, string> {
      const channel: Record<string, string> = {
        'Unique-ID': uuid,
        'Call-Direction': 'outbound',
        'Channel-Name': `sofia/internal/${agent.split('@')[0]}@10.0.0.20`,
        'Caller-Caller-ID-Number': '5551234',
        'Caller-Destination-Number': agent.split('@')[0]!,
        variable_direction: 'outbound',
        variable_uuid: uuid,
        variable_cc_queue: QUEUE,
        variable_cc_member_uuid: memberUuid,
        variable_cc_member_session_uuid: memberSession,
        variable_cc_member_pre_answer_uuid: memberUuid,
        variable_cc_agent: agent,
        variable_cc_agent_type: 'callback',
        variable_cc_side: 'agent',
      };
      for (const [name, value] of Object.entries(variables)) channel[`variable_${name}`] = value;
      return channel;
    }

    function flows(): Record<string, string>[] {
      const t = Math.floor(Date.now() / 1000) - 120;
      const at = (seconds: number) => new Date((t + seconds) * 1000);
      const epoch = (seconds: number) => String(t + seconds);
      let sequence = 100;
      const cc = (seconds: number, fields: Record<string, string>) => callcenterEvent(CORE, sequence++, fields, at(seconds));
      const hangup = (seconds: number, cause: string, fields: Record<string, string>) => ({ ...eventHeaders(CORE, sequence++, 'CHANNEL_HANGUP_COMPLETE', at(seconds)), 'Hangup-Cause': cause, ...fields });
      const memberA = { 'CC-Queue': QUEUE, 'CC-Member-UUID': ANSWERED.member, 'CC-Member-Session-UUID': ANSWERED.session, 'CC-Member-CID-Name': 'Caller', 'CC-Member-CID-Number': '5551234' };
      const memberB = { 'CC-Queue': QUEUE, 'CC-Member-UUID': ABANDONED.member, 'CC-Member-Session-UUID': ABANDONED.session, 'CC-Member-CID-Name': 'Caller', 'CC-Member-CID-Number': '5559876' };
      const answeredAgent = agentChannel(ANSWERED.agentLeg, '1000@default', ANSWERED.session, ANSWERED.member, {});
      return [
        cc(0, { 'CC-Agent': '1000@default', 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }),
        cc(0, { 'CC-Agent': '1001@default', 'CC-Action': 'agent-status-change', 'CC-Agent-Status': 'Available' }),
        // Answered call: the IVR answered at 2 s, the caller joins the queue at 5 s, 1001 does not answer, 1000 answers at 25 s.
        cc(5, { ...memberA, 'CC-Action': 'member-queue-start', ...callerChannel(ANSWERED.session, '5551234', { answer_epoch: epoch(2) }) }),
        cc(6, { ...memberA, 'CC-Action': 'agent-offering', 'CC-Agent': '1001@default', 'CC-Agent-Type': 'callback', 'CC-Agent-System': 'single_box', 'CC-Member-DNIS': '7000' }),
        cc(18, { ...memberA, 'CC-Action': 'bridge-agent-fail', 'CC-Hangup-Cause': 'NO_ANSWER', 'CC-Agent': '1001@default', 'CC-Agent-System': 'single_box', 'CC-Agent-Called-Time': epoch(6), 'CC-Agent-Aborted-Time': epoch(18), 'CC-Member-Joined-Time': epoch(5) }),
        hangup(18, 'NO_ANSWER', agentChannel(ANSWERED.ringLeg, '1001@default', ANSWERED.session, ANSWERED.member, { hangup_cause_q850: '19', start_epoch: epoch(6), answer_epoch: '0', end_epoch: epoch(18), duration: '12', billsec: '0' })),
        cc(19, { ...memberA, 'CC-Action': 'agent-offering', 'CC-Agent': '1000@default', 'CC-Agent-Type': 'callback', 'CC-Agent-System': 'single_box', 'CC-Member-DNIS': '7000' }),
        cc(25, { ...memberA, 'CC-Action': 'bridge-agent-start', 'CC-Agent': '1000@default', 'CC-Agent-System': 'single_box', 'CC-Agent-UUID': ANSWERED.agentLeg, 'CC-Agent-Called-Time': epoch(19), 'CC-Agent-Answered-Time': epoch(25), 'CC-Member-Joined-Time': epoch(5), ...answeredAgent }),
        cc(85, { ...memberA, 'CC-Action': 'bridge-agent-end', 'CC-Hangup-Cause': 'NORMAL_CLEARING', 'CC-Agent': '1000@default', 'CC-Agent-System': 'single_box', 'CC-Agent-UUID': ANSWERED.agentLeg, 'CC-Agent-Called-Time': epoch(19), 'CC-Agent-Answered-Time': epoch(25), 'CC-Member-Joined-Time': epoch(5), 'CC-Bridge-Terminated-Time': epoch(85), ...answeredAgent }),
        cc(85, { ...memberA, 'CC-Action': 'member-queue-end', 'CC-Hangup-Cause': 'NORMAL_CLEARING', 'CC-Cause': 'Terminated', 'CC-Agent': '1000@default', 'CC-Agent-System': 'single_box', 'CC-Agent-UUID': ANSWERED.agentLeg, 'CC-Agent-Called-Time': epoch(19), 'CC-Agent-Answered-Time': epoch(25), 'CC-Member-Leaving-Time': epoch(85), 'CC-Member-Joined-Time': epoch(5), ...callerChannel(ANSWERED.session, '5551234', {}) }),
        hangup(85, 'NORMAL_CLEARING', callerChannel(ANSWERED.session, '5551234', {
          cc_side: 'member', cc_member_uuid: ANSWERED.member, cc_queue_joined_epoch: epoch(5), cc_queue: QUEUE, cc_agent: '1000@default', cc_queue_answered_epoch: epoch(25), cc_agent_uuid: ANSWERED.agentLeg, cc_queue_terminated_epoch: epoch(85), cc_cause: 'answered',
          hangup_cause_q850: '16', sip_term_status: '200', sip_hangup_disposition: 'recv_bye', start_epoch: epoch(0), answer_epoch: epoch(2), end_epoch: epoch(85), duration: '85', billsec: '83', hold_accum_seconds: '0',
        })),
        hangup(86, 'NORMAL_CLEARING', { ...answeredAgent, variable_hangup_cause_q850: '16', variable_start_epoch: epoch(19), variable_answer_epoch: epoch(25), variable_end_epoch: epoch(86), variable_duration: '67', variable_billsec: '61', variable_hold_accum_seconds: '12' }),
        // Abandoned call: the IVR answered, the caller waits from 32 s and hangs up at 60 s while 1001 rings.
        cc(32, { ...memberB, 'CC-Action': 'member-queue-start', ...callerChannel(ABANDONED.session, '5559876', { answer_epoch: epoch(31) }) }),
        cc(33, { ...memberB, 'CC-Action': 'agent-offering', 'CC-Agent': '1001@default', 'CC-Agent-Type': 'callback', 'CC-Agent-System': 'single_box', 'CC-Member-DNIS': '7000' }),
        cc(60, { ...memberB, 'CC-Action': 'member-queue-end', 'CC-Member-Leaving-Time': epoch(60), 'CC-Member-Joined-Time': epoch(32), 'CC-Cause': 'Cancel', 'CC-Cancel-Reason': 'BREAK_OUT', ...callerChannel(ABANDONED.session, '5559876', {}), 'Channel-Call-State': 'HANGUP', 'Answer-State': 'hangup' }),
        hangup(60, 'NORMAL_CLEARING', callerChannel(ABANDONED.session, '5559876', {
          cc_side: 'member', cc_member_uuid: ABANDONED.member, cc_queue_joined_epoch: epoch(32), cc_queue: QUEUE, cc_queue_canceled_epoch: epoch(60), cc_cause: 'cancel', cc_cancel_reason: 'BREAK_OUT',
          hangup_cause_q850: '16', sip_term_status: '200', sip_hangup_disposition: 'recv_bye', start_epoch: epoch(30), answer_epoch: epoch(31), end_epoch: epoch(60), duration: '30', billsec: '29', hold_accum_seconds: '0',
        })),
        cc(60, { ...memberB, 'CC-Action': 'bridge-agent-fail', 'CC-Hangup-Cause': 'ORIGINATOR_CANCEL', 'CC-Agent': '1001@default', 'CC-Agent-System': 'single_box', 'CC-Agent-Called-Time': epoch(33), 'CC-Agent-Aborted-Time': epoch(60), 'CC-Member-Joined-Time': epoch(32) }),
        hangup(60, 'ORIGINATOR_CANCEL', agentChannel(ABANDONED.ringLeg, '1001@default', ABANDONED.session, ABANDONED.member, { hangup_cause_q850: '487', start_epoch: epoch(33), answer_epoch: '0', end_epoch: epoch(60), duration: '27', billsec: '0' })),
      ];
    }

    it('writes one record per call (agent legs joined, a late agent leg included), abandoned with no agent, and counts two offered calls', async () => {
      const { fake, hub, log } = await setup();
      const events = flows();
      const t = Number(events[2]!['variable_answer_epoch']) - 2;
      const iso = (seconds: number) => new Date((t + seconds) * 1000).toISOString();
      for (const event of events) fake.send(event);
      await waitFor(async () => (await log()).filter((event) => event.type === 'cdr.created').length === 2, 15_000, 'two call records');

      const logged = (await log()).filter((event) => !event.type.startsWith('source.'));
      expect(logged.filter((event) => event.type !== 'cdr.created').map((event) => [event.type, event.data.call_id ?? event.data.agent])).toEqual([
        ['agent.status_changed', '1000@default'],
        ['agent.status_changed', '1001@default'],
        ['call.queued', ANSWERED.session],
        ['call.offered', ANSWERED.session],
        // 1001 rang out (bridge-agent-fail NO_ANSWER): its missed offer. 1001's fail on the
        // abandoned call (ORIGINATOR_CANCEL: the caller hung up) is the abandon, not a miss.
        ['call.missed', ANSWERED.session],
        ['call.offered', ANSWERED.session],
        ['call.connected', ANSWERED.session],
        // bridge-agent-end and member-queue-end Terminated end the call once.
        ['call.ended', ANSWERED.session],
        ['call.queued', ABANDONED.session],
        ['call.offered', ABANDONED.session],
        ['call.abandoned', ABANDONED.session],
      ]);
      expect(logged.find((event) => event.type === 'call.abandoned')!.data).toMatchObject({ queue: QUEUE, reason: 'caller_hungup', reason_raw: 'BREAK_OUT', wait_s: 28 });

      const records = Object.fromEntries(logged.filter((event) => event.type === 'cdr.created').map((event) => [event.data.call_id, event]));
      expect(records[ANSWERED.session]).toMatchObject({ id: `fs:${CORE}:cdr:${ANSWERED.session}`, source: 'fs1' });
      expect(records[ANSWERED.session]!.data).toEqual({
        call_id: ANSWERED.session,
        number: '5551234',
        direction: 'inbound',
        dial_number: '7000',
        queue: QUEUE,
        agent: '1000@default',
        // The caller's leg started first; the agent leg ended last.
        dialed_at: iso(0),
        // The agent's answer, not the IVR's (at 2 s).
        answered_at: iso(25),
        ended_at: iso(86),
        duration_s: 86,
        wait_s: 20,
        talk_s: 60,
        // The hold was counted on the agent's leg.
        hold_s: 12,
        disposition: 'callee_hungup',
        q850_cause: 16,
        sip_code: 200,
      });
      expect(records[ABANDONED.session]!.data).toEqual({
        call_id: ABANDONED.session,
        number: '5559876',
        direction: 'inbound',
        dial_number: '7000',
        queue: QUEUE,
        agent: null,
        dialed_at: iso(30),
        ended_at: iso(60),
        duration_s: 30,
        wait_s: 28,
        hold_s: 0,
        disposition: 'abandoned',
        q850_cause: 16,
        sip_code: 200,
      });

      const { body } = await api(hub.url, 'GET', '/v1/live/queues');
      const queue = (body.queues as { queue: string }[]).find((entry) => entry.queue === QUEUE);
      // Two callers: the agent legs (one answered, two that rang) are never offered calls.
      expect(queue).toMatchObject({ offered: 2, answered: 1, abandoned: 1, waiting: 0 });
      expect(body.totals).toMatchObject({ offered: 2, answered: 1, abandoned: 1 });

      // Enigma's CDR list keeps its contract: the abandoned call has no extension.
      // The list is shared by this file's hubs: this call's entries are those naming its sessions, oldest (BRPOP's next) last.
      const enigma = async () =>
        (await client.lRange('enigma:notifications:campaigns', 0, -1))
          .map((entry) => (JSON.parse(entry) as { payload: Record<string, unknown> }).payload)
          .filter((payload) => payload.call_ref === ANSWERED.session || payload.call_ref === ABANDONED.session);
      await waitFor(async () => (await enigma()).length >= 2, 15_000, 'two Enigma CDRs');
      expect((await enigma()).reverse().map((payload) => [payload.call_ref, payload.extension, payload.end_reason, payload.call_time])).toEqual([
        [ANSWERED.session, '1000@default', 'callee_hungup', 86],
        [ABANDONED.session, null, 'callee_hungup', 30],
      ]);
    });

    it('a dialler call that never reached a queue keeps its own causes: busy, with the SIP code and the Q.850 cause as recorded', async () => {
      const { fake, log } = await setup();
      const t = Math.floor(Date.now() / 1000) - 30;
      const uuid = '5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9';
      fake.send({
        ...eventHeaders(CORE, 900, 'CHANNEL_HANGUP_COMPLETE', new Date((t + 4) * 1000)),
        'Hangup-Cause': 'USER_BUSY',
        'Unique-ID': uuid,
        'Call-Direction': 'outbound',
        'Caller-Caller-ID-Number': '34650110022',
        'Caller-Destination-Number': '34650844400',
        variable_direction: 'outbound',
        variable_uuid: uuid,
        variable_callrequest_id: '276548',
        variable_campaign_id: '295',
        variable_hangup_cause_q850: '17',
        variable_sip_term_status: '486',
        variable_start_epoch: String(t),
        variable_answer_epoch: '0',
        variable_end_epoch: String(t + 4),
        variable_duration: '4',
        variable_billsec: '0',
      });
      await waitFor(async () => (await log()).some((event) => event.type === 'cdr.created'), 15_000, 'the record');
      expect((await log()).filter((event) => event.type === 'cdr.created').map((event) => [event.id, event.data])).toEqual([
        [
          `fs:${CORE}:cdr:${uuid}`,
          {
            call_id: '276548', campaign: '295', number: '34650844400', dial_number: '34650110022', direction: 'outbound', agent: null, disposition: 'busy',
            dialed_at: new Date(t * 1000).toISOString(), ended_at: new Date((t + 4) * 1000).toISOString(), duration_s: 4, talk_s: 0, q850_cause: 17, sip_code: 486,
          },
        ],
      ]);
    });

    it('per_leg: the caller who left the queue is abandoned (cc_cause is lower case, `cancel`), agent legs make no record', async () => {
      const { fake, log } = await setup({ cdr: 'per_leg' });
      for (const event of flows()) fake.send(event);
      await waitFor(async () => (await log()).filter((event) => event.type === 'cdr.created').length === 2, 15_000, 'two records');
      await waitFor(async () => (await log()).some((event) => event.type === 'call.abandoned'), 15_000, 'the abandon');
      const records = (await log()).filter((event) => event.type === 'cdr.created');
      expect(records.map((event) => [event.data.call_id, event.data.disposition, event.data.agent])).toEqual([
        [ANSWERED.session, 'callee_hungup', '1000@default'],
        [ABANDONED.session, 'abandoned', null],
      ]);
    });
  });
});
