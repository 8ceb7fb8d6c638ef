import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { postEvents, startHub } from './helpers/hub.js';
import { waitFor } from './helpers/wait.js';

type Client = Awaited<ReturnType<typeof connectClient>>;

/** Collects Pub/Sub messages the way an integrator's subscriber would. */
async function subscriber(url: string) {
  const client = await connectClient(url);
  const messages: { channel: string; message: string }[] = [];
  return {
    client,
    messages,
    psubscribe: (pattern: string) => client.pSubscribe(pattern, (message, channel) => messages.push({ channel, message })),
    subscribe: (channel: string) => client.subscribe(channel, (message) => messages.push({ channel, message })),
    /** The messages once there are `count` (or more); the test's own assertions then say what is wrong. */
    async waitFor(count: number) {
      await waitFor(() => messages.length >= count, 20_000, `${count} messages`);
      return messages;
    },
  };
}

describe('Enigma and Newfies outputs', () => {
  let redis: TestRedis;
  let hub: Hub;
  let client: Client;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url);
    client = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.quit();
    await hub?.close();
    await redis?.close();
  });

  it('psubscribe enigma:notifications:agents:* gets every agent; subscribe …:1002 only 1002', async () => {
    const all = await subscriber(redis.url);
    const only1002 = await subscriber(redis.url);
    await all.psubscribe('enigma:notifications:agents:*');
    await only1002.subscribe('enigma:notifications:agents:1002');

    const response = await postEvents(hub.url, [
      { type: 'agent.status_changed', data: { agent: '1002', status: 'available', campaign: 'spring-sale', ref: 'r-1' } },
      { type: 'agent.status_changed', data: { agent: '1003', status: 'wrapup' } },
      { type: 'call.connected', data: { call_id: 'call-9', agent: '1002', contact_ref: 'crm-77', number: '+27215550100', campaign: 'spring-sale', ref: 'r-2' } },
      { type: 'call.offered', data: { call_id: 'call-9', agent: '1002' } },
    ]);
    expect(response.status).toBe(202);

    const messages = await all.waitFor(3);
    expect(messages).toEqual([
      { channel: 'enigma:notifications:agents:1002', message: '{"type":"status","payload":{"status":"available","campaign_ref":"spring-sale","ref":"r-1"}}' },
      { channel: 'enigma:notifications:agents:1003', message: '{"type":"status","payload":{"status":"wrapup","campaign_ref":null,"ref":null}}' },
      { channel: 'enigma:notifications:agents:1002', message: '{"type":"call","payload":{"call_ref":"call-9","agent":"1002","contact_ref":"crm-77","number":"+27215550100","ref":"r-2"}}' },
    ]);
    // A later status for 1002 as a fence: once it is here, any stray message would be too.
    await postEvents(hub.url, { type: 'agent.status_changed', data: { agent: '1002', status: 'busy', ref: 'fence' } });
    const mine = await only1002.waitFor(3);
    expect(mine.map((entry) => JSON.parse(entry.message).type)).toEqual(['status', 'call', 'status']);
    expect(JSON.parse(mine[2]!.message).payload.ref).toBe('fence');
    expect(mine.every((entry) => entry.channel === 'enigma:notifications:agents:1002')).toBe(true);
    await all.client.quit();
    await only1002.client.quit();
  });

  it('publishes campaign status and dial previews on the campaign channel', async () => {
    const campaigns = await subscriber(redis.url);
    await campaigns.psubscribe('enigma:notifications:campaigns:*');
    await postEvents(hub.url, [
      { type: 'campaign.status_changed', data: { campaign: 'spring-sale', status: 'started' } },
      { type: 'campaign.dial_preview', data: { campaign: 'spring-sale', callees: [{ number: '+27215550101', contact_ref: 'c-1' }, { number: '+27215550102' }] } },
    ]);
    expect(await campaigns.waitFor(2)).toEqual([
      { channel: 'enigma:notifications:campaigns:spring-sale', message: '{"type":"status","payload":{"status":"started","ref":null}}' },
      {
        channel: 'enigma:notifications:campaigns:spring-sale',
        message: '{"type":"dial_preview","payload":{"callees":[{"number":"+27215550101","contact_ref":"c-1"},{"number":"+27215550102","contact_ref":null}],"ref":null}}',
      },
    ]);
    await campaigns.client.quit();
  });

  it('LPUSHes CDRs so BRPOP returns them in order, with Enigma keys and a null extension for queue hang-ups', async () => {
    const cdrs = [
      { call_id: 'c-1', number: '+27215550101', direction: 'outbound', dialed_at: '2026-11-21T10:00:00.000Z', disposition: 'no_answer', campaign: 'spring-sale', contact_ref: 'crm-1', q850_cause: 19, sip_code: 480, dial_number: '+27210000000' },
      { call_id: 'c-2', number: '+27215550102', direction: 'outbound', dialed_at: '2026-11-21T10:00:30.000Z', disposition: 'callee_hungup', agent: '1002', campaign: 'spring-sale', contact_ref: 'crm-1', q850_cause: 16, duration_s: 95, recording_url: 'https://rec.example/c-2.wav' },
      { call_id: 'c-3', number: '+27215550103', direction: 'outbound', dialed_at: '2026-11-21T10:01:00.000Z', disposition: 'abandoned', agent: null, campaign: 'spring-sale', contact_ref: 'crm-2' },
    ];
    await postEvents(hub.url, cdrs.map((data) => ({ type: 'cdr.created', data })));

    const popped: Record<string, unknown>[] = [];
    for (let i = 0; i < 3; i += 1) {
      const reply = await client.brPop('enigma:notifications:campaigns', 2);
      popped.push(JSON.parse(reply!.element));
    }
    expect(popped.map((message) => message.type)).toEqual(['cdr', 'cdr', 'cdr']);
    const payloads = popped.map((message) => message.payload as Record<string, unknown>);
    expect(payloads.map((payload) => payload.call_ref)).toEqual(['c-1', 'c-2', 'c-3']);
    expect(Object.keys(payloads[0]!)).toEqual([
      'extension', 'call_ref', 'contact_ref', 'dialed_at', 'end_reason', 'end_code', 'call_time', 'call_dir', 'recording_url', 'ref', 'number', 'dial_number',
    ]);
    expect(payloads[0]).toEqual({
      extension: null, call_ref: 'c-1', contact_ref: 'crm-1', dialed_at: '2026-11-21T10:00:00.000Z', end_reason: 'timeout', end_code: 19,
      call_time: null, call_dir: 'outbound', recording_url: null, ref: 'spring-sale', number: '+27215550101', dial_number: '+27210000000',
    });
    expect(payloads[1]).toMatchObject({ extension: '1002', end_reason: 'callee_hungup', end_code: 16, call_time: 95, recording_url: 'https://rec.example/c-2.wav' });
    expect(payloads[2]).toMatchObject({ extension: null, end_reason: 'callee_hungup' });
  });

  it('publishes byte-exact Newfies messages on callcenter_events', async () => {
    const newfies = await subscriber(redis.url);
    await newfies.subscribe('callcenter_events');
    await postEvents(hub.url, [
      {
        type: 'call.offered',
        data: {
          call_id: '276547', agent: 'tenant-1@areski', campaign: '295', caller_name: 'Outbound Call', number: '34650844400',
          member_session_uuid: '4dbd89c2-8e54-43a6-a0b4-a7d26b09ae6c', member_uuid: '33e7df24-133c-47c1-9aec-b985d507d43e',
          caller_id: '34650110022', queue: 'tenant-1@areski-queue',
        },
      },
      { type: 'agent.status_changed', data: { agent: 'tenant-1@areski', status: 'offline' } },
      { type: 'call.connected', data: { call_id: '276548', agent: 'tenant-1@areski', caller_name: 'Zoë' } },
    ]);
    const messages = (await newfies.waitFor(3)).map((entry) => entry.message);
    // The documented examples (docs/contracts/newfies.md), byte for byte.
    expect(messages[0]).toBe(
      '{"Offering-Call-Agent:" : {"callrequest_id": "276547", "CC_Agent": "tenant-1@areski", "campaign_id": "295", "CC_Member_CID_Name": "Outbound Call", "CC_Agent_System": "single_box", "phonenumber": "34650844400", "callerid_number": "34650844400", "CC_Member_Session_UUID": "4dbd89c2-8e54-43a6-a0b4-a7d26b09ae6c", "CC_Member_UUID": "33e7df24-133c-47c1-9aec-b985d507d43e", "CC_Member_CID_Number": "34650110022", "CC_Queue": "tenant-1@areski-queue"}}',
    );
    expect(messages[1]).toBe('{"Agent-Status-Change:" : {"CC_Agent": "tenant-1@areski", "CC_Agent_Status": "Logged Out"}}');
    expect(messages[2]).toContain('{"Connected-Call-Agent:" : {"callrequest_id": "276548", ');
    expect(messages[2]).toContain('"CC_Member_CID_Name": "Zo\\u00eb"');
    expect(messages[2]).toContain('"campaign_id": ""');
    await newfies.client.quit();
  });
});

describe('profile configuration', () => {
  it('honours a custom Enigma prefix, the singular channel template and SIP end codes', async () => {
    const redis = await startRedis({ appendOnly: false });
    const hub = await startHub(redis.url, {
      profiles: { enigma: { prefix: 'dialler', agentChannel: '{prefix}:notifications:agent:{agent}', endCode: 'sip' }, newfies: { enabled: false } },
    });
    const sub = await subscriber(redis.url);
    await sub.psubscribe('*');
    const client = await connectClient(redis.url);
    await postEvents(hub.url, [
      { type: 'agent.status_changed', data: { agent: '1002', status: 'busy' } },
      { type: 'cdr.created', data: { call_id: 'c-1', number: '1', direction: 'inbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'busy', q850_cause: 17, sip_code: 486 } },
    ]);
    // A later status as a fence: the CDR, published at all, would be before it.
    await postEvents(hub.url, { type: 'agent.status_changed', data: { agent: '1003', status: 'available' } });
    const messages = await sub.waitFor(2);
    expect(messages.map((entry) => entry.channel)).toEqual(['dialler:notifications:agent:1002', 'dialler:notifications:agent:1003']);
    const cdr = JSON.parse((await client.rPop('dialler:notifications:campaigns'))!);
    expect(cdr.payload).toMatchObject({ end_reason: 'busy', end_code: 486, call_dir: 'inbound' });
    await sub.client.quit();
    await client.quit();
    await hub.close();
    await redis.close();
  });
});
