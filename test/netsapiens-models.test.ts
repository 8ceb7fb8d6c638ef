import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { scenarioModels, triggerCommand } from '../src/cli/trigger.js';
import type { Hub } from '../src/hub.js';
import { validateBatch } from '../src/intake/validate.js';
import { SandboxDialler, type SandboxEvent } from '../src/sandbox/dialler.js';
import { SCENARIO_NAMES } from '../src/sandbox/scenarios.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

/** Seed 002's "Available Models" table, in its order. */
const SEED_MODELS = ['agent', 'auditlog', 'auditlog_lite', 'call', 'call_origid', 'cdr', 'message', 'messagesession', 'subscriber', 'presence', 'voicemail'] as const;
type SeedModel = (typeof SEED_MODELS)[number];

const DOMAIN = 'acme.example';
const BETA_INGEST_TOKEN = 'beta-ingest-token-0123456789';


/** A create request written as seed 002's fields read: model, post-url, the reseller/domain/user scope, geo support. */
const seedRequest = (model: string, postUrl: string, user = '*') => ({
  model,
  'post-url': postUrl,
  reseller: '*',
  domain: DOMAIN,
  user,
  'subscription-geo-support': 'yes',
});

type ModelObject = Record<string, unknown> & { id: string; type: string; data: Record<string, unknown> };

const scope = (domain = DOMAIN) => ({ reseller: 'r1', domain });
const call = (type: string, callId: string, data: Record<string, unknown> = {}, domain = DOMAIN) => ({ type, scope: scope(domain), data: { call_id: callId, queue: 'sales', ...data } });
const audit = (action: string, objectType: string, targetDomain: string, extra: Record<string, unknown> = {}, scopeDomain = DOMAIN) => ({
  type: 'audit.logged',
  scope: scope(scopeDomain),
  data: { actor: 'admin@acme.example', action, object_type: objectType, object_id: `${objectType}-1`, target_domain: targetDomain, ...extra },
});
const message = (type: string, user: string, id: string) => ({
  type,
  scope: scope(),
  data: { message_id: id, session_id: `s-${user}`, channel: 'sms', user, from: '+27215550104', to: user, body: 'Is my order shipped?', media_count: 0 },
});

/**
 * One of every kind of event, each with the models it must reach (and no other). Its comments say
 * why a model takes or skips it; the mapping is in src/webhooks/models.ts.
 */
const TRAFFIC: { event: Record<string, unknown>; models: SeedModel[] }[] = [
  { event: call('call.queued', 'c1', { position: 1 }), models: ['call', 'call_origid'] },
  // Two agents rung: term-side changes, which call_origid leaves out.
  { event: call('call.offered', 'c1', { agent: '1001' }), models: ['agent', 'call'] },
  { event: call('call.offered', 'c1', { agent: '1002' }), models: ['agent', 'call'] },
  { event: call('call.missed', 'c1', { agent: '1002', ring_s: 15 }), models: ['agent', 'call'] },
  { event: call('call.connected', 'c1', { agent: '1001' }), models: ['agent', 'call', 'call_origid'] },
  // The caller's own leg is held and taken back: a change of the call in both call models.
  { event: call('call.held', 'c1', { agent: '1001' }), models: ['call', 'call_origid'] },
  { event: call('call.resumed', 'c1', { agent: '1001' }), models: ['call', 'call_origid'] },
  { event: { type: 'agent.status_changed', scope: { ...scope(), user: '1001' }, data: { agent: '1001', status: 'busy' } }, models: ['agent', 'subscriber', 'presence'] },
  { event: call('call.ended', 'c1', { agent: '1001', talk_s: 60 }), models: ['call', 'call_origid'] },
  {
    event: { type: 'cdr.created', scope: scope(), data: { call_id: 'c1', number: '+27215550101', direction: 'inbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' } },
    models: ['cdr'],
  },
  { event: call('call.queued', 'c2'), models: ['call', 'call_origid'] },
  { event: call('call.abandoned', 'c2', { reason: 'caller_hungup' }), models: ['call', 'call_origid'] },
  // Another domain: no subscription here takes it.
  { event: call('call.queued', 'c3', {}, 'other.example'), models: [] },
  {
    event: { type: 'voicemail.created', scope: scope(), data: { voicemail_id: 'vm-1', user: '1001', caller_number: '+27215550103', caller_name: 'Thandi', duration_s: 24, folder: 'new', transcription: 'Call me back.' } },
    models: ['voicemail'],
  },
  { event: message('message.received', '1001', 'm1'), models: ['message'] },
  // The message subscription is for user 1001 (seed 002: "used in conjunction with user and domain").
  { event: message('message.received', '1002', 'm2'), models: [] },
  {
    event: {
      type: 'messagesession.updated',
      scope: scope(),
      data: {
        session_id: 's-1001',
        channel: 'sms',
        user: '1001',
        last_message: { message_id: 'm1', direction: 'received', from: '+27215550104', to: '1001', body: 'Is my order shipped?', media_count: 0, sent_at: '2026-11-21T10:05:00Z' },
        read_status: 'unread',
        unread_count: 1,
      },
    },
    models: ['messagesession'],
  },
  { event: message('message.sent', '1001', 'm3'), models: ['message'] },
  { event: { type: 'subscriber.updated', data: { user: '1001', domain: DOMAIN, changed: { first_name: 'Ann', email: 'ann@acme.example' } } }, models: ['subscriber'] },
  { event: audit('create', 'user', DOMAIN, { origin: 'api' }), models: ['auditlog', 'auditlog_lite'] },
  { event: audit('update', 'user', DOMAIN), models: ['auditlog'] },
  { event: audit('create', 'phonenumber', DOMAIN, { origin: 'api' }), models: ['auditlog', 'auditlog_lite'] },
  // Seed 002: "phonenumber will only be sent on changes from api … not from admin ui changes".
  { event: audit('delete', 'phonenumber', DOMAIN, { origin: 'ui' }), models: ['auditlog'] },
  { event: audit('delete', 'conference', DOMAIN, { origin: 'ui' }), models: ['auditlog', 'auditlog_lite'] },
  { event: audit('create', 'dialplan', DOMAIN), models: ['auditlog'] },
  { event: audit('create', 'domain', DOMAIN), models: ['auditlog', 'auditlog_lite'] },
  { event: audit('delete', 'reseller', DOMAIN), models: ['auditlog', 'auditlog_lite'] },
  { event: audit('create', 'callqueue', DOMAIN), models: ['auditlog', 'auditlog_lite'] },
  { event: audit('delete', 'agent', DOMAIN), models: ['auditlog', 'auditlog_lite'] },
  // Filtered on target_domain, not on the scope: the first is about another domain, the second about ours.
  { event: audit('create', 'user', 'beta.example', {}, DOMAIN), models: [] },
  { event: audit('create', 'conference', DOMAIN, {}, 'beta.example'), models: ['auditlog', 'auditlog_lite'] },
  { event: { type: 'campaign.status_changed', scope: scope(), data: { campaign: 'spring', status: 'started' } }, models: [] },
];

/** Events every model takes, posted after TRAFFIC: once each has arrived, whatever TRAFFIC owed that model has too. */
const FENCES: { event: Record<string, unknown>; models: SeedModel[] }[] = [
  { event: call('call.queued', 'fence'), models: ['call', 'call_origid'] },
  { event: { type: 'agent.status_changed', scope: scope(), data: { agent: '1001', status: 'available' } }, models: ['agent', 'subscriber', 'presence'] },
  { event: { type: 'cdr.created', scope: scope(), data: { call_id: 'fence', number: '+27215550109', direction: 'inbound', dialed_at: '2026-11-21T10:09:00Z', disposition: 'answered' } }, models: ['cdr'] },
  { event: audit('create', 'user', DOMAIN), models: ['auditlog', 'auditlog_lite'] },
  { event: message('message.sent', '1001', 'fence'), models: ['message'] },
  { event: { type: 'messagesession.updated', scope: scope(), data: { session_id: 's-1001', channel: 'sms', user: '1001', last_message: { message_id: 'fence', direction: 'sent', from: '1001', to: '+27215550104', body: '', media_count: 1, sent_at: '2026-11-21T10:09:00Z' }, read_status: 'read', unread_count: 0 } }, models: ['messagesession'] },
  { event: { type: 'voicemail.created', scope: scope(), data: { voicemail_id: 'vm-fence', user: '1001', caller_number: '+27215550109', duration_s: 3, folder: 'urgent' } }, models: ['voicemail'] },
];

describe('NetSapiens models (seed 002): all eleven, each with its events only', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;
  const subscriptions = new Map<SeedModel, { id: string; secret: string }>();

  const objectsFor = (model: SeedModel): ModelObject[] => {
    const id = subscriptions.get(model)?.id;
    return receiver.received.filter((post) => post.headers['x-correlation-id'] === id).flatMap((post) => JSON.parse(post.body) as ModelObject[]);
  };

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, {
      auth: { tokens: [{ name: 'beta-ingest', token: BETA_INGEST_TOKEN, roles: ['ingest'], scope: { domain: 'beta.example' } }] },
      webhooks: { allowPrivateTargets: true, batchLingerMs: 20, retryScheduleMs: [50, 50], retryJitter: 0, throttleFloorMs: 0, leaseTtlMs: 10_000, pollIntervalMs: 100 },
    });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('accepts a request written as seed 002 reads for each of the eleven models', async () => {
    for (const model of SEED_MODELS) {
      const created = await api(hub.url, 'POST', '/v1/subscriptions', seedRequest(model, `${receiver.url}?m=${model}`, model === 'message' ? '1001' : '*'));
      expect(created.status, `${model}: ${JSON.stringify(created.body)}`).toBe(200);
      expect(created.body).toMatchObject({ model, reseller: '*', domain: DOMAIN, 'subscription-geo-support': 'yes', status: 'pending' });
      subscriptions.set(model, { id: created.body.id as string, secret: created.body.secret as string });
    }
    const listed = (await api(hub.url, 'GET', '/v1/subscriptions')).body as unknown as { model: string }[];
    expect(listed.map((sub) => sub.model).sort()).toEqual([...SEED_MODELS].sort());
    for (const { id } of subscriptions.values()) {
      await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${id}`)).body['current-active-server'], { timeout: 20_000 }).not.toBe('');
    }
  });

  it('posts each model its events, in order, and nothing else; a call ends with "remove":"yes"', async () => {
    const accepted = await postEvents(hub.url, TRAFFIC.map((item) => item.event));
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(202);
    const ids = accepted.body.ids as string[];
    const fences = await postEvents(hub.url, FENCES.map((item) => item.event));
    expect(fences.status, JSON.stringify(fences.body)).toBe(202);
    const fenceIds = fences.body.ids as string[];

    const expected = (model: SeedModel) => [
      ...TRAFFIC.flatMap((item, i) => (item.models.includes(model) ? [ids[i]] : [])),
      ...FENCES.flatMap((item, i) => (item.models.includes(model) ? [fenceIds[i]] : [])),
    ];
    await receiver.waitFor(() => SEED_MODELS.every((model) => objectsFor(model).length >= expected(model).length), 30_000);

    for (const model of SEED_MODELS) {
      const objects = objectsFor(model);
      expect(objects.map((object) => object.id), model).toEqual(expected(model));
      expect(objects.every((object) => object.model === model)).toBe(true);
      // Signed for this subscription, as every post is.
      const { id, secret } = subscriptions.get(model) as { id: string; secret: string };
      for (const post of receiver.received.filter((candidate) => candidate.headers['x-correlation-id'] === id)) {
        expect(() => new Webhook(secret).verify(post.body, post.headers as Record<string, string>)).not.toThrow();
      }
    }
    expect(objectsFor('call_origid').map((object) => object.type)).toEqual(['call.queued', 'call.connected', 'call.held', 'call.resumed', 'call.ended', 'call.queued', 'call.abandoned', 'call.queued']);
    // call_origid names the originating leg in data.orig_call_id; call keeps the event's data as logged.
    expect(objectsFor('call_origid').map((object) => object.data.orig_call_id)).toEqual(['c1', 'c1', 'c1', 'c1', 'c1', 'c2', 'c2', 'fence']);
    expect(objectsFor('call_origid').every((object) => Object.keys(object.data)[0] === 'orig_call_id' && object.data.orig_call_id === object.data.call_id)).toBe(true);
    expect(objectsFor('call').some((object) => 'orig_call_id' in object.data)).toBe(false);
    expect(objectsFor('auditlog_lite').map((object) => `${object.data.action as string} ${object.data.object_type as string}`)).toEqual([
      'create user',
      'create phonenumber',
      'delete conference',
      'create domain',
      'delete reseller',
      'create callqueue',
      'delete agent',
      'create conference',
      'create user',
    ]);
    expect(objectsFor('auditlog').every((object) => object.data.target_domain === DOMAIN)).toBe(true);
    expect(objectsFor('message').every((object) => object.data.user === '1001')).toBe(true);

    // The last post of each call, and only it, carries "remove":"yes", a member of the model object right after model and seq.
    for (const model of ['call', 'call_origid'] as const) {
      const objects = objectsFor(model);
      const removed = objects.filter((object) => object.remove === 'yes');
      expect(removed.map((object) => [object.type, object.data.call_id])).toEqual([
        ['call.ended', 'c1'],
        ['call.abandoned', 'c2'],
      ]);
      for (const object of removed) expect(Object.keys(object).slice(0, 3)).toEqual(['model', 'seq', 'remove']);
      for (const callId of ['c1', 'c2']) expect(objects.filter((object) => object.data.call_id === callId).at(-1)?.remove).toBe('yes');
      expect(objects.filter((object) => object.remove !== undefined)).toHaveLength(2);
    }
    for (const model of SEED_MODELS.filter((candidate) => candidate !== 'call' && candidate !== 'call_origid')) {
      expect(objectsFor(model).some((object) => 'remove' in object), model).toBe(false);
    }
  });

  it('answers an unknown model with a precise 400 naming the closest model, and stores nothing', async () => {
    const before = ((await api(hub.url, 'GET', '/v1/subscriptions')).body as unknown as unknown[]).length;
    for (const [model, closest] of [
      ['calls', 'call'],
      ['audit_log', 'auditlog'],
      ['call_orig_id', 'call_origid'],
      ['voicemal', 'voicemail'],
      ['mesage', 'message'],
    ] as const) {
      const refused = await api(hub.url, 'POST', '/v1/subscriptions', seedRequest(model, `${receiver.url}?bad=${model}`));
      expect(refused.status).toBe(400);
      expect(refused.body.error?.code).toBe('VALIDATION_FAILED');
      expect(refused.body.error?.details).toEqual([{ path: '/model', message: expect.stringMatching(new RegExp(`^unknown model "${model}" \\(did you mean "${closest}"\\?\\); one of agent, auditlog, `)) }]);
    }
    const far = await api(hub.url, 'POST', '/v1/subscriptions', seedRequest('fax', receiver.url));
    expect(far.status).toBe(400);
    expect(far.body.error?.details?.[0]?.message).toBe(
      'unknown model "fax"; one of agent, auditlog, auditlog_lite, call, call_origid, cdr, message, messagesession, subscriber, presence, voicemail, campaign',
    );
    const update = await api(hub.url, 'PUT', `/v1/subscriptions/${subscriptions.get('cdr')?.id}`, { model: 'cdrs' });
    expect(update.status).toBe(400);
    expect(update.body.error?.details?.[0]?.message).toContain('(did you mean "cdr"?)');
    expect(((await api(hub.url, 'GET', '/v1/subscriptions')).body as unknown as unknown[]).length).toBe(before);
    expect((await api(hub.url, 'GET', `/v1/subscriptions/${subscriptions.get('cdr')?.id}`)).body.model).toBe('cdr');
  });

  it('serves the new types in /v1/schemas, closed, and refuses events that break them, naming each problem', async () => {
    const schemas = (await (await fetch(`${hub.url}/v1/schemas`)).json()) as { types: Record<string, { required?: string[]; additionalProperties?: boolean }> };
    expect(schemas.types['voicemail.created']?.required).toEqual(['voicemail_id', 'user', 'caller_number', 'duration_s', 'folder']);
    expect(schemas.types['message.received']?.required).toEqual(['message_id', 'session_id', 'channel', 'user', 'from', 'to', 'body', 'media_count']);
    expect(schemas.types['message.sent']?.required).toEqual(schemas.types['message.received']?.required);
    expect(schemas.types['messagesession.updated']?.required).toEqual(['session_id', 'channel', 'user', 'last_message', 'read_status', 'unread_count']);
    expect(schemas.types['subscriber.updated']?.required).toEqual(['user', 'domain', 'changed']);
    expect(schemas.types['audit.logged']?.required).toEqual(['actor', 'action', 'object_type', 'object_id', 'target_domain']);
    for (const type of ['voicemail.created', 'message.received', 'message.sent', 'messagesession.updated', 'subscriber.updated', 'audit.logged']) {
      expect(schemas.types[type]?.additionalProperties, type).toBe(false);
    }

    const refused = await postEvents(hub.url, [
      { type: 'voicemail.created', data: { voicemail_id: 'v', user: '1001', caller_number: '+2721', duration_s: 3, folder: 'inbox' } },
      { type: 'audit.logged', data: { actor: 'a', action: 'rename', object_type: 'user', object_id: 'u', target_domain: DOMAIN } },
      { type: 'message.received', data: { message_id: 'm', session_id: 's', channel: 'fax', user: '1001', from: 'a', to: 'b', body: '' } },
      { type: 'subscriber.updated', data: { user: '1001', domain: DOMAIN, changed: {} } },
      { type: 'messagesession.updated', data: { session_id: 's', channel: 'sms', user: '1001', last_message: { message_id: 'm' }, read_status: 'seen', unread_count: 0 } },
    ]);
    expect(refused.status).toBe(400);
    const details = (refused.body.error as { details: { index: number; path: string; message: string }[] }).details;
    expect(details).toEqual(
      expect.arrayContaining([
        { index: 0, path: '/data/folder', message: 'must be one of: new, urgent, saved' },
        { index: 1, path: '/data/action', message: 'must be one of: create, update, delete' },
        { index: 2, path: '/data/channel', message: 'must be one of: chat, sms' },
        { index: 2, path: '/data/media_count', message: 'is required' },
        { index: 3, path: '/data/changed', message: 'Expected object to have at least 1 properties' },
        { index: 4, path: '/data/read_status', message: 'must be one of: read, unread' },
        { index: 4, path: '/data/last_message/from', message: 'is required' },
      ]),
    );
  });

  it("holds a domain-limited token to its domain in an audit entry's target_domain (403, nothing stored)", async () => {
    const forged = { id: 'forged-audit', ...audit('delete', 'user', DOMAIN, {}, 'beta.example') };
    const refused = await postEvents(hub.url, [forged], BETA_INGEST_TOKEN);
    expect(refused.status).toBe(403);
    expect((refused.body.error as { details: unknown[] }).details).toEqual([{ index: 0, path: '/data/target_domain', message: 'token "beta-ingest" is limited to domain "beta.example"' }]);
    const own = await postEvents(hub.url, [{ ...audit('delete', 'user', 'beta.example'), scope: undefined }], BETA_INGEST_TOKEN);
    expect(own.status).toBe(202);
    // Not stored: the same id is new to the log.
    const stored = await postEvents(hub.url, [{ ...forged, id: 'forged-audit' }]);
    expect(stored.body).toMatchObject({ accepted: 1, duplicates: 0 });
  });

  it('has a trigger scenario for each new model, whose events reach that model', async () => {
    const covered = new Set(SCENARIO_NAMES.flatMap((name) => scenarioModels(name)));
    for (const model of SEED_MODELS) expect(covered.has(model), model).toBe(true);

    const triggered = (model: SeedModel) => objectsFor(model).filter((object) => object.source === 'switchboard-trigger');
    const out = new PassThrough();
    for (const scenario of ['audit', 'voicemail']) await triggerCommand({ url: hub.url, token: TEST_TOKEN }, scenario, { agent: '1001', queue: 'sales', campaign: 'spring', domain: DOMAIN }, out);
    await receiver.waitFor(() => triggered('auditlog').length >= 5 && triggered('auditlog_lite').length >= 4 && triggered('voicemail').length >= 1);
    expect(triggered('auditlog')).toHaveLength(5);
    expect(triggered('auditlog_lite').map((object) => `${object.data.action as string} ${object.data.object_type as string}`)).toEqual([
      'create user',
      'create phonenumber',
      'create agent',
      'delete conference',
    ]);
    expect(triggered('voicemail')).toHaveLength(1);
    expect(triggered('voicemail')[0]).toMatchObject({ model: 'voicemail', type: 'voicemail.created', scope: { domain: DOMAIN }, data: { user: '1001', folder: 'new' } });
  });
});

describe('sandbox traffic for the NetSapiens models', () => {
  it('produces every new type, each accepted by the intake', () => {
    let ticks = 0;
    const dialler = new SandboxDialler({ agents: 5, campaigns: 2, seed: 11, now: () => new Date(Date.UTC(2026, 10, 21, 10) + 50 * ticks++) });
    const events: SandboxEvent[] = [];
    for (let i = 0; i < 2000; i += 1) events.push(...dialler.next());
    events.push(...dialler.finish());
    expect(() => validateBatch(events, events.length)).not.toThrow();
    const types = new Set(events.map((event) => event.type));
    for (const type of ['voicemail.created', 'message.received', 'message.sent', 'messagesession.updated', 'subscriber.updated', 'audit.logged']) expect(types.has(type), type).toBe(true);
    // Each agent is created (audited) once, before its first login.
    const agentCreates = events.filter((event) => event.type === 'audit.logged' && event.data.object_type === 'agent');
    expect(agentCreates.map((event) => event.data.object_id)).toEqual(expect.arrayContaining(['1001@sandbox.example', '1005@sandbox.example']));
    expect(new Set(agentCreates.map((event) => event.data.object_id)).size).toBe(agentCreates.length);
    // A text exchange: received, session unread, sent, session read; in that order per session.
    const sessions = new Map<string, string[]>();
    for (const event of events.filter((candidate) => candidate.type.startsWith('message'))) {
      const id = event.data.session_id as string;
      sessions.set(id, [...(sessions.get(id) ?? []), event.type === 'messagesession.updated' ? `session ${event.data.read_status as string}` : event.type]);
    }
    for (const sequence of sessions.values()) expect(sequence).toEqual(['message.received', 'session unread', 'message.sent', 'session read']);
  });
});
