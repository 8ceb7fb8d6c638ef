import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import { WebhookSender } from '../src/webhooks/delivery/http.js';
import { isPrivateAddress, TargetPolicy } from '../src/webhooks/delivery/target-policy.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';

describe('webhook target policy and outbound limits', () => {
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('classifies private, loopback, link-local and unique-local addresses', () => {
    for (const address of ['127.0.0.1', '10.0.0.8', '172.20.1.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fd00::1', 'fe80::1', '::ffff:10.0.0.1', '::ffff:127.0.0.1']) {
      expect(isPrivateAddress(address), address).toBe(true);
    }
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8']) {
      expect(isPrivateAddress(address), address).toBe(false);
    }
  });

  it('refuses at connect time a name that resolves to a private address (DNS rebinding), unless allowed', async () => {
    const webhooks = parseConfig({}).webhooks;
    const refusing = new WebhookSender(webhooks, new TargetPolicy(false));
    const url = new URL(`http://localhost:${receiver.port}/hook`);
    const before = receiver.received.length;
    const refused = await refusing.post(url, { 'content-type': 'application/json' }, '[]', new AbortController().signal);
    expect(refused).toMatchObject({ ok: false, error: expect.stringContaining('target refused') });
    const literal = await refusing.post(new URL(receiver.url), {}, '[]', new AbortController().signal);
    expect(literal).toMatchObject({ ok: false, error: expect.stringContaining('target refused') });
    expect(receiver.received.length).toBe(before);
    await refusing.close();

    const allowing = new WebhookSender(webhooks, new TargetPolicy(true));
    const accepted = await allowing.post(url, { 'content-type': 'application/json' }, '[]', new AbortController().signal);
    expect(accepted).toMatchObject({ ok: true, status: 200 });
    await allowing.close();
  });

  it('does not follow redirects: a 3xx is a failed attempt', async () => {
    const webhooks = parseConfig({}).webhooks;
    const sender = new WebhookSender(webhooks, new TargetPolicy(true));
    receiver.reply = () => ({ status: 302, headers: { location: 'http://127.0.0.1:1/elsewhere' } });
    const redirected = await sender.post(new URL(receiver.url), {}, '[]', new AbortController().signal);
    expect(redirected).toMatchObject({ ok: false, status: 302 });
    receiver.reply = () => ({ status: 200 });
    await sender.close();
  });
});
