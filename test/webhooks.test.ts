import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub, TEST_TOKEN } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRedis, type TestRedis } from './helpers/redis.js';

const DOMAIN_TOKEN = 'acme-admin-token-0123456789';
const READER_TOKEN = 'reader-token-0123456789ab';


const agentStatus = (agent: string, domain: string, status = 'available') => ({
  type: 'agent.status_changed',
  scope: { reseller: 'r1', domain, user: agent },
  data: { agent, status },
});

describe('event subscriptions: API, filtering, signing', () => {
  let redis: TestRedis;
  let hub: Hub;
  let strictHub: Hub;
  let receiver: Receiver;

  beforeAll(async () => {
    redis = await startRedis();
    hub = await startHub(redis.url, {
      auth: {
        tokens: [
          { name: 'acme-admin', token: DOMAIN_TOKEN, roles: ['admin', 'read', 'ingest'], scope: { reseller: 'r1', domain: 'acme.example' } },
          { name: 'reader', token: READER_TOKEN, roles: ['read'] },
        ],
      },
      webhooks: { allowPrivateTargets: true, batchLingerMs: 20, retryScheduleMs: [50, 50], retryJitter: 0, throttleFloorMs: 0, leaseTtlMs: 10_000, pollIntervalMs: 100 },
    });
    strictHub = await startHub(redis.url, { keyPrefix: 'sbstrict', webhooks: { leaseTtlMs: 10_000 } });
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await strictHub?.close();
    await hub?.close();
    await receiver?.close();
    await redis?.close();
  });

  it('creates a subscription in the NetSapiens v2 shape, secret shown once, 409 on an identical one', async () => {
    const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'agent', 'post-url': `${receiver.url}?dup=1`, domain: 'dup.example' });
    expect(created.status).toBe(200);
    expect(created.body).toMatchObject({
      model: 'agent',
      'post-url': `${receiver.url}?dup=1`,
      reseller: '*',
      domain: 'dup.example',
      user: '*',
      status: 'pending',
      'posts-count': 0,
      'error-count': 0,
      'subscription-geo-support': 'yes',
    });
    expect(created.body.id).toMatch(/^[0-9a-f]{32}$/);
    expect(created.body.secret).toMatch(/^whsec_/);
    expect(Date.parse(created.body['subscription-expires-datetime'] as string)).toBeGreaterThan(Date.now() + 19 * 365 * 86_400_000);

    const again = await api(hub.url, 'GET', `/v1/subscriptions/${created.body.id}`, undefined, READER_TOKEN);
    expect(again.status).toBe(200);
    expect(again.body.secret).toBeUndefined();
    await hub.context.redis.ping();
    await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${created.body.id}`)).body['current-active-server']).not.toBe('');

    const duplicate = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'agent', 'post-url': `${receiver.url}?dup=1`, domain: 'dup.example' });
    expect(duplicate.status).toBe(409);

    const unknownModel = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'fax', 'post-url': receiver.url });
    expect(unknownModel.status).toBe(400);
    expect(unknownModel.body.error?.message).toContain('unknown model');

    const badSecret = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiver.url, secret: 'hunter2' });
    expect(badSecret.status).toBe(400);

    const counters = await api(hub.url, 'PUT', `/v1/subscriptions/${created.body.id}`, { 'error-count': 5 });
    expect(counters.status).toBe(400);
    const reset = await api(hub.url, 'PUT', `/v1/subscriptions/${created.body.id}`, { 'error-count': 0, 'preferred-server': 'node-a' });
    expect(reset.status).toBe(202);
    expect(reset.body['preferred-server']).toBe('node-a');

    const readerCreate = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': receiver.url }, READER_TOKEN);
    expect(readerCreate.status).toBe(403);

    expect((await api(hub.url, 'DELETE', `/v1/subscriptions/${created.body.id}`)).status).toBe(202);
    expect((await api(hub.url, 'GET', `/v1/subscriptions/${created.body.id}`)).status).toBe(404);
  });

  it('applies the scope rules of a domain-scoped token (403 for * or another domain)', async () => {
    const all = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'call', 'post-url': receiver.url, domain: '*' }, DOMAIN_TOKEN);
    expect(all.status).toBe(403);
    const other = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'call', 'post-url': receiver.url, domain: 'evil.example' }, DOMAIN_TOKEN);
    expect(other.status).toBe(403);
    const otherPath = await api(hub.url, 'POST', '/v1/domains/evil.example/subscriptions', { model: 'call', 'post-url': receiver.url }, DOMAIN_TOKEN);
    expect(otherPath.status).toBe(403);

    const own = await api(hub.url, 'POST', '/v1/domains/acme.example/subscriptions', { model: 'call', 'post-url': `${receiver.url}?own=1` }, DOMAIN_TOKEN);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ reseller: 'r1', domain: 'acme.example' });

    const foreign = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'call', 'post-url': `${receiver.url}?foreign=1`, domain: 'other.example' });
    expect(foreign.status).toBe(200);
    expect((await api(hub.url, 'GET', `/v1/subscriptions/${foreign.body.id}`, undefined, DOMAIN_TOKEN)).status).toBe(404);
    const listed = await api(hub.url, 'GET', '/v1/subscriptions', undefined, DOMAIN_TOKEN);
    expect((listed.body as unknown as { id: string }[]).map((sub) => sub.id)).toEqual([own.body.id]);
    const domainList = await api(hub.url, 'GET', '/v1/domains/acme.example/subscriptions', undefined, DOMAIN_TOKEN);
    expect((domainList.body as unknown as { id: string }[]).map((sub) => sub.id)).toEqual([own.body.id]);

    for (const id of [own.body.id, foreign.body.id]) expect((await api(hub.url, 'DELETE', `/v1/subscriptions/${id}`)).status).toBe(202);
  });

  it('refuses a private or loopback post-url by default (400)', async () => {
    for (const url of ['http://127.0.0.1:9/hook', 'http://localhost:9/hook', 'http://10.1.2.3/hook', 'http://[::1]:9/', 'http://169.254.169.254/latest']) {
      const refused = await api(strictHub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': url });
      expect(refused.status, url).toBe(400);
      expect(refused.body.error?.message).toMatch(/post-url/);
    }
    const ftp = await api(strictHub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': 'ftp://example.com/x' });
    expect(ftp.status).toBe(400);
  });

  it('posts signed JSON arrays of the subscribed model and scope only', async () => {
    const agent = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'agent', 'post-url': `${receiver.url}?m=agent`, domain: 'acme.example' });
    const presence = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'presence', 'post-url': `${receiver.url}?m=presence`, domain: 'acme.example', user: '1002' });
    const cdr = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'cdr', 'post-url': `${receiver.url}?m=cdr` });
    for (const sub of [agent, presence, cdr]) expect(sub.status).toBe(200);

    // Delivery starts with events accepted after the subscription exists; give the lease a moment.
    await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${cdr.body.id}`)).body['current-active-server']).not.toBe('');
    const accepted = await postEvents(hub.url, [
      agentStatus('1001', 'acme.example'),
      agentStatus('1002', 'acme.example', 'busy'),
      agentStatus('1003', 'other.example'),
      { type: 'call.offered', scope: { domain: 'acme.example' }, data: { call_id: 'c1', agent: '1001' } },
      { type: 'cdr.created', scope: { domain: 'other.example' }, data: { call_id: 'c1', number: '+3312', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered' } },
      { type: 'campaign.status_changed', data: { campaign: 'spring', status: 'started' } },
    ]);
    expect(accepted.status).toBe(202);
    const ids = accepted.body.ids as string[];

    const postsFor = (model: string) => receiver.received.filter((post) => post.headers['x-correlation-id'] !== undefined && JSON.parse(post.body)[0]?.model === model);
    const objectsFor = (model: string) => postsFor(model).flatMap((post) => JSON.parse(post.body) as Record<string, unknown>[]);
    // Fences every subscription matches: once they are delivered, anything else due would be too.
    const fences = await postEvents(hub.url, [
      agentStatus('1002', 'acme.example'),
      { type: 'cdr.created', scope: { domain: 'acme.example' }, data: { call_id: 'c2', number: '+3313', direction: 'inbound', dialed_at: '2026-11-21T10:01:00Z', disposition: 'answered' } },
    ]);
    const [statusFence, cdrFence] = fences.body.ids as string[];
    const idsFor = (model: string) => objectsFor(model).map((object) => object.id);
    await receiver.waitFor(() => idsFor('agent').includes(statusFence) && idsFor('presence').includes(statusFence) && idsFor('cdr').includes(cdrFence));

    expect(idsFor('agent')).toEqual([ids[0], ids[1], ids[3], statusFence]);
    expect(idsFor('presence')).toEqual([ids[1], statusFence]);
    expect(idsFor('cdr')).toEqual([ids[4], cdrFence]);
    const [first] = objectsFor('agent');
    expect(first).toMatchObject({ model: 'agent', type: 'agent.status_changed', scope: { domain: 'acme.example' }, data: { agent: '1001', status: 'available' } });
    expect(first?.seq).toMatch(/^\d+-\d+$/);

    const secrets = new Map([
      [agent.body.id, agent.body.secret],
      [presence.body.id, presence.body.secret],
      [cdr.body.id, cdr.body.secret],
    ]);
    for (const model of ['agent', 'presence', 'cdr']) {
      for (const post of postsFor(model)) {
        expect(post.headers['content-type']).toBe('application/json');
        const subscriptionId = post.headers['x-correlation-id'] as string;
        expect(secrets.has(subscriptionId)).toBe(true);
        const verified = new Webhook(secrets.get(subscriptionId) as string).verify(post.body, post.headers as Record<string, string>);
        expect(Array.isArray(verified)).toBe(true);
        expect(() => new Webhook('whsec_' + Buffer.alloc(32, 1).toString('base64')).verify(post.body, post.headers as Record<string, string>)).toThrow();
      }
    }

    const after = await api(hub.url, 'GET', `/v1/subscriptions/${agent.body.id}`);
    expect(after.body).toMatchObject({ status: 'active', 'error-count': 0 });
    expect(after.body['posts-count']).toBeGreaterThanOrEqual(1);

    const metrics = await (await fetch(`${hub.url}/metrics`)).text();
    expect(metrics).toMatch(/switchboard_webhook_posts_total\{outcome="ok"\} \d+/);
    expect(metrics).toContain(`switchboard_webhook_lag_seconds{subscription="${agent.body.id}"}`);
    for (const sub of [agent, presence, cdr]) await api(hub.url, 'DELETE', `/v1/subscriptions/${sub.body.id}`);
  });

  it('signs with both secrets during a key rotation', async () => {
    const created = await api(hub.url, 'POST', '/v1/subscriptions', { model: 'campaign', 'post-url': `${receiver.url}?rotate=1` });
    const oldSecret = created.body.secret as string;
    const newSecret = 'whsec_' + Buffer.alloc(32, 7).toString('base64');
    const rotated = await api(hub.url, 'PUT', `/v1/subscriptions/${created.body.id}`, { secret: newSecret });
    expect(rotated.status).toBe(202);
    // An answered PUT on the owning node means its worker already signs with both secrets.
    await expect.poll(async () => (await api(hub.url, 'GET', `/v1/subscriptions/${created.body.id}`)).body['current-active-server']).not.toBe('');
    await postEvents(hub.url, { type: 'campaign.status_changed', data: { campaign: 'rot', status: 'stopped' } });
    const mine = () => receiver.received.filter((post) => post.headers['x-correlation-id'] === created.body.id);
    await receiver.waitFor(() => mine().length >= 1);
    const post = mine()[0]!;
    expect((post.headers['webhook-signature'] as string).split(' ')).toHaveLength(2);
    for (const secret of [oldSecret, newSecret]) {
      expect(() => new Webhook(secret).verify(post.body, post.headers as Record<string, string>)).not.toThrow();
    }
    await api(hub.url, 'DELETE', `/v1/subscriptions/${created.body.id}`);
  });

  it('is driven from the CLI (switchboard subscriptions …) through the HTTP API', async () => {
    const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
    const run = async (...args: string[]) => {
      const { stdout } = await promisify(execFile)(process.execPath, [cli, 'subscriptions', '--url', hub.url, '--token', TEST_TOKEN, ...args]);
      return JSON.parse(stdout) as Record<string, unknown> & Record<string, unknown>[];
    };
    const created = await run('create', '--model', 'cdr', '--post-url', `${receiver.url}?cli=1`, '--domain', 'cli.example');
    expect(created).toMatchObject({ model: 'cdr', domain: 'cli.example', status: 'pending' });
    expect(created.secret).toMatch(/^whsec_/);
    const id = created.id as string;
    expect((await run('list', '--domain', 'cli.example')).map((sub) => sub.id)).toEqual([id]);
    expect(await run('show', id)).toMatchObject({ id, model: 'cdr' });
    expect(await run('failed', id)).toEqual([]);
    expect(await run('redrive', id)).toMatchObject({ id, batches: 0 });
    expect(await run('replay', id, '--since', new Date(Date.now() - 60_000).toISOString())).toMatchObject({ id });
    expect(await run('delete', id)).toMatchObject({ id, deleted: true });
    await expect(run('show', id)).rejects.toThrow(/404/);
  });
});
