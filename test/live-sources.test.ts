import { describe, expect, it } from 'vitest';
import { AsteriskMapper, queueWrapupsFromConfig } from '../src/sources/asterisk/map.js';
import { FreeswitchMapper } from '../src/sources/freeswitch/map.js';

/*
 * What the PBX mappers give the live figures: missed offers, holds and after-call work, from the
 * events FreeSWITCH's mod_callcenter and Asterisk's app_queue send (field names as they send
 * them; the real Asterisk runs in sources-asterisk-activity.test.ts).
 */

const CORE = '0c0ffee0-0000-4000-8000-000000000001';
let sequence = 100;
const cc = (action: string, fields: Record<string, string>) => ({
  'Core-UUID': CORE,
  'Event-Sequence': String(++sequence),
  'Event-Name': 'CUSTOM',
  'Event-Subclass': 'callcenter::info',
  'Event-Date-Timestamp': '1765101600000000',
  'CC-Action': action,
  ...fields,
});

describe('FreeSWITCH mod_callcenter → live activity events', () => {
  it('bridge-agent-fail is a missed offer, with the hangup cause', () => {
    const mapper = new FreeswitchMapper({ callId: 'callrequest_id', campaign: 'campaign_id' });
    const [missed, ...rest] = mapper.map(
      cc('bridge-agent-fail', {
        'CC-Queue': 'support@default',
        'CC-Agent': '1001@default',
        'CC-Hangup-Cause': 'NO_ANSWER',
        'CC-Agent-Aborted-Time': '1765101630',
        'CC-Member-UUID': 'member-1',
        'CC-Member-Session-UUID': 'session-1',
        'CC-Member-CID-Number': '5551000',
      }),
    );
    expect(rest).toEqual([]);
    // The caller hung up while the agent's phone rang: the abandon, not the agent's miss.
    expect(mapper.map(cc('bridge-agent-fail', { 'CC-Queue': 'support@default', 'CC-Agent': '1001@default', 'CC-Hangup-Cause': 'ORIGINATOR_CANCEL', 'CC-Member-Session-UUID': 'session-9' }))).toEqual([]);
    expect(missed).toMatchObject({
      type: 'call.missed',
      data: { call_id: 'session-1', queue: 'support@default', agent: '1001@default', reason_raw: 'NO_ANSWER', missed_at: '2025-12-07T10:00:30.000Z' },
    });
  });

  it('Idle after a queue call (Available (On Demand)) is after-call work until the agent is Waiting again; Idle alone is nothing', () => {
    const mapper = new FreeswitchMapper({ callId: 'callrequest_id', campaign: 'campaign_id' });
    const state = (value: string) => mapper.map(cc('agent-state-change', { 'CC-Agent': '1002@default', 'CC-Agent-State': value }));
    expect(state('Idle')).toEqual([]);
    mapper.map(cc('bridge-agent-end', { 'CC-Queue': 'support@default', 'CC-Agent': '1002@default', 'CC-Member-UUID': 'member-2', 'CC-Member-Session-UUID': 'session-2' }));
    expect(state('Idle').map((event) => event.data)).toEqual([{ agent: '1002@default', status: 'wrapup', status_raw: 'Idle' }]);
    expect(state('Waiting').map((event) => event.data)).toEqual([{ agent: '1002@default', status: 'available', status_raw: 'Waiting' }]);
    expect(state('Idle')).toEqual([]);
  });
});

describe('FreeSWITCH wrap-up-time → after-call work', () => {
  it("an Available agent's wrap-up-time after bridge-agent-end is after-call work until the bridge's end plus that time", () => {
    const mapper = new FreeswitchMapper({ callId: 'callrequest_id', campaign: 'campaign_id' });
    // As the resync's `callcenter_config agent list` gives it.
    mapper.noteAgent('1003@default', 'Available', 10);
    const ended = mapper.map(
      cc('bridge-agent-end', { 'CC-Queue': 'support@default', 'CC-Agent': '1003@default', 'CC-Member-UUID': 'member-3', 'CC-Member-Session-UUID': 'session-3', 'CC-Bridge-Terminated-Time': '1765101650' }),
    );
    expect(ended.map((event) => [event.type, event.data.status])).toEqual([
      ['call.ended', undefined],
      ['agent.status_changed', 'wrapup'],
    ]);
    // mod_callcenter sets the agent Waiting at once; the wrap-up still runs.
    expect(mapper.map(cc('agent-state-change', { 'CC-Agent': '1003@default', 'CC-Agent-State': 'Waiting' }))).toEqual([]);
    const wrapups = mapper.takeWrapups();
    expect(wrapups).toEqual([{ agent: '1003@default', untilMs: 1765101660_000 }]);
    const [end] = mapper.endWrapup(wrapups[0]!, CORE);
    expect(end).toMatchObject({ type: 'agent.status_changed', time: '2025-12-07T10:01:00.000Z', data: { agent: '1003@default', status: 'available', status_raw: 'Waiting' } });
    expect(mapper.endWrapup(wrapups[0]!, CORE)).toEqual([]);
    // On a break: no wrap-up.
    mapper.noteAgent('1003@default', 'On Break', undefined);
    expect(mapper.map(cc('bridge-agent-end', { 'CC-Queue': 'support@default', 'CC-Agent': '1003@default', 'CC-Member-UUID': 'member-4' })).map((event) => event.type)).toEqual(['call.ended']);
  });
});

describe('Asterisk app_queue → live activity events', () => {
  const legs = { legStarted: () => {}, legEnded: () => {} };
  const at = (seconds: number) => ({ Timestamp: String(1765101600 + seconds) });
  const channel = { Uniqueid: '1765101600.1', Linkedid: '1765101600.1', CallerIDNum: '5552000' };
  const member = { Queue: 'sales', MemberName: 'amy', Interface: 'Local/1101@agents' };
  const map = (mapper: AsteriskMapper, headers: Record<string, string>) => mapper.map({ headers, variables: {}, output: [] }, 'k');

  it("reads each queue's wrapuptime from GetConfig's answer", () => {
    expect(
      queueWrapupsFromConfig({
        Response: 'Success',
        'Category-000000': 'general',
        'Line-000000-000000': 'persistentmembers=no',
        'Category-000001': 'sales',
        'Line-000001-000000': 'strategy=ringall',
        'Line-000001-000001': 'wrapuptime=15',
        'Category-000002': 'support',
        'Line-000002-000000': 'timeout=4',
      }),
    ).toEqual(new Map([['sales', 15]]));
  });

  it("AgentRingNoAnswer is a missed offer (RingTime is in ms); Hold and Unhold of the call are call.held and call.resumed; AgentComplete starts the queue's wrap-up, ended at its time", () => {
    const mapper = new AsteriskMapper({ variables: { callId: 'callrequest_id', campaign: 'campaign_id' }, direction: 'inbound', timeZone: 'UTC', cdr: 'per_call' }, legs);
    mapper.setQueueWrapups(new Map([['sales', 15]]));
    map(mapper, { Event: 'QueueMemberAdded', ...at(0), ...member, Status: '1', Paused: '0', Wrapuptime: '0' });
    map(mapper, { Event: 'QueueCallerJoin', ...at(1), ...channel, Queue: 'sales', Position: '1', Count: '1' });
    const [missed] = map(mapper, { Event: 'AgentRingNoAnswer', ...at(6), ...channel, ...member, RingTime: '4500' });
    expect(missed).toMatchObject({ type: 'call.missed', data: { call_id: '1765101600.1', queue: 'sales', agent: 'amy', ring_s: 4.5, reason_raw: 'AgentRingNoAnswer' } });
    map(mapper, { Event: 'AgentConnect', ...at(8), ...channel, ...member, HoldTime: '7', RingTime: '1' });
    const [held] = map(mapper, { Event: 'Hold', ...at(10), ...channel });
    const [resumed] = map(mapper, { Event: 'Unhold', ...at(14), ...channel });
    expect([held?.type, resumed?.type]).toEqual(['call.held', 'call.resumed']);
    expect(held?.data).toEqual({ call_id: '1765101600.1', agent: 'amy', queue: 'sales' });
    const ended = map(mapper, { Event: 'AgentComplete', ...at(20), ...channel, ...member, HoldTime: '7', TalkTime: '12', Reason: 'caller' });
    expect(ended.map((event) => [event.type, event.data.status ?? event.data.hold_s])).toEqual([
      ['call.ended', 4],
      ['agent.status_changed', 'wrapup'],
    ]);
    // The phone goes idle at once: still in wrap-up, nothing new to say.
    expect(map(mapper, { Event: 'QueueMemberStatus', ...at(21), ...member, Status: '1', Paused: '0' })).toEqual([]);
    const wrapups = mapper.takeWrapups();
    expect(wrapups).toEqual([{ agent: 'amy', untilMs: (1765101600 + 20 + 15) * 1000 }]);
    const [end] = mapper.endWrapup(wrapups[0]!);
    expect(end).toMatchObject({ type: 'agent.status_changed', time: new Date((1765101600 + 35) * 1000).toISOString(), data: { agent: 'amy', status: 'available', queues: ['sales'] } });
    // The same end again (a second timer, another hub's) says nothing more.
    expect(mapper.endWrapup(wrapups[0]!)).toEqual([]);
  });
});
