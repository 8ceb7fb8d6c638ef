import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { runCli, startHub, TEST_TOKEN } from './helpers/hub.js';
import { startReceiver, type Receiver } from './helpers/receiver.js';
import { startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

interface Running {
  child: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

function spawnCli(args: string[], env: Record<string, string>): Running {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  return {
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      await exited;
    },
  };
}

describe('switchboard listen / resend / trigger', () => {
  let redis: TestRedis;
  let hub: Hub;
  let receiver: Receiver;
  const configHome = tempDir('switchboard-listen-');
  let env: Record<string, string>;
  const running: Running[] = [];

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url);
    receiver = await startReceiver();
    env = { SWITCHBOARD_URL: hub.url, SWITCHBOARD_API_TOKEN: TEST_TOKEN, XDG_CONFIG_HOME: configHome };
  });
  afterAll(async () => {
    for (const process of running) await process.stop();
    await receiver?.close();
    await hub?.close();
    await redis?.close();
  });

  const listen = async (...args: string[]) => {
    const process = spawnCli(['listen', '--forward-to', receiver.url, ...args], env);
    running.push(process);
    await waitFor(() => process.output().includes('Ready!'), 20_000, 'listen to be ready');
    const secret = process.output().match(/signing secret is (whsec_\S+)/)?.[1];
    expect(secret).toBeDefined();
    return { process, secret: secret as string };
  };

  it('forwards triggered events signed so that standardwebhooks verifies them, with --> and <-- lines, and a stable secret', async () => {
    const { process: listener, secret } = await listen('--types', 'call.*,agent.status_changed,cdr.created', '-H', 'X-Team: blue');
    const trigger = await runCli(['trigger', 'queued-call', '--agent', '1007', '--queue', 'support'], env);
    expect(trigger.code).toBe(0);
    expect(trigger.output).toContain('Trigger succeeded! 7 events accepted');
    const ids = [...trigger.output.matchAll(/Running fixture for: (\S+) \[(\S+)\]/g)].map((match) => ({ type: match[1], id: match[2] }));
    expect(ids.map((entry) => entry.type)).toEqual([
      'call.queued',
      'call.offered',
      'call.connected',
      'agent.status_changed',
      'call.ended',
      'agent.status_changed',
      'cdr.created',
    ]);
    await receiver.waitFor(() => receiver.received.length >= 7);

    const verifier = new Webhook(secret);
    const posted = receiver.received.map((post) => {
      const objects = verifier.verify(post.body, post.headers as Record<string, string>) as Record<string, unknown>[];
      expect(post.headers['x-team']).toBe('blue');
      expect(objects).toHaveLength(1);
      return objects[0] as { id: string; type: string; seq: string; model?: string; data: Record<string, unknown> };
    });
    expect(posted.map((object) => object.id)).toEqual(ids.map((entry) => entry.id));
    expect(posted[0]).toMatchObject({ model: 'call', type: 'call.queued', data: { queue: 'support' } });
    expect(posted[3]).toMatchObject({ model: 'agent', type: 'agent.status_changed', data: { agent: '1007', status: 'busy' } });
    expect(posted.map((object) => object.seq)).toEqual([...posted.map((object) => object.seq)].sort());
    // A tampered body or another secret fails verification.
    const first = receiver.received[0];
    expect(() => new Webhook(secret).verify(`${first?.body} `, first?.headers as Record<string, string>)).toThrow();

    // listen prints a <-- line once the receiver's answer is read, which can be after the receiver counted the post.
    const lastId = ids.at(-1)?.id ?? '';
    await waitFor(() => listener.output().includes(`<--  [200] POST ${receiver.url} [${lastId}]`), 20_000, 'the last <-- line');
    for (const { type, id } of ids) {
      expect(listener.output()).toMatch(new RegExp(`\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d   --> ${(type ?? '').replace('.', '\\.')} \\[${id}\\]`));
      expect(listener.output()).toMatch(new RegExp(`<--  \\[200\\] POST ${receiver.url.replace(/[/.?]/g, '\\$&')} \\[${id}\\]`));
    }

    // The secret survives a restart of listen.
    await listener.stop();
    const again = await listen();
    expect(again.secret).toBe(secret);
    const printed = await runCli(['listen', '--forward-to', receiver.url, '--print-secret'], env);
    expect(printed.output.trim()).toBe(secret);
    await again.process.stop();
  });

  it('--print-secret alone prints the secret, the same one listen signs with; without it, --forward-to is asked for', async () => {
    const printed = await runCli(['listen', '--print-secret'], env);
    expect(printed.code).toBe(0);
    expect(printed.output).toMatch(/^whsec_[A-Za-z0-9+/=]+\n$/);
    const withForward = await runCli(['listen', '--forward-to', receiver.url, '--print-secret'], env);
    expect(withForward.output).toBe(printed.output);

    const missing = await runCli(['listen'], env);
    expect(missing.code).toBe(1);
    expect(missing.output).toBe('switchboard: VALIDATION_FAILED: listen needs --forward-to <url> (or --print-secret to print the signing secret alone)\n');
  });

  it('does not retry a failed forward; resend sends the event again with a new webhook-id', async () => {
    const { process: listener, secret } = await listen('--model', 'cdr');
    const before = receiver.received.length;
    receiver.reply = (_request, index) => ({ status: index === before ? 500 : 200 });
    const trigger = await runCli(['trigger', 'cdr'], env);
    expect(trigger.code).toBe(0);
    const cdrId = trigger.output.match(/Running fixture for: cdr\.created \[(\S+)\]/)?.[1] as string;
    await waitFor(() => listener.output().includes(`<--  [500] POST ${receiver.url} [${cdrId}]`), 20_000, 'the failed forward');
    // Another event gets through; the failed one was posted once only.
    expect((await runCli(['trigger', 'cdr'], env)).code).toBe(0);
    await receiver.waitFor(() => receiver.received.length >= before + 2);
    const forCdr = () => receiver.received.filter((post) => post.body.includes(`"id":"${cdrId}"`));
    expect(forCdr()).toHaveLength(1);

    const resend = await runCli(['resend', cdrId, '--forward-to', receiver.url, '--model', 'cdr'], env);
    expect(resend.code).toBe(0);
    expect(resend.output).toContain(`<--  [200] POST ${receiver.url} [${cdrId}]`);
    expect(forCdr()).toHaveLength(2);
    const [original, resent] = forCdr();
    expect(resent?.headers['webhook-id']).not.toBe(original?.headers['webhook-id']);
    const [object] = new Webhook(secret).verify(resent?.body ?? '', resent?.headers as Record<string, string>) as { id: string; model: string; data: { call_id: string } }[];
    expect(object).toMatchObject({ id: cdrId, model: 'cdr' });

    const missing = await runCli(['resend', 'no-such-event', '--forward-to', receiver.url], env);
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('NOT_FOUND');
    const unknown = await runCli(['trigger', 'fire-drill'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('unknown scenario "fire-drill"');
    await listener.stop();
  });

  it('waits for a hub that is not up yet: the reason once, with where to set the URL, then Ready', async () => {
    // A peer that drops every connection, counting them: listen's retries, seen from outside.
    let attempts = 0;
    const dropper = createServer((socket) => {
      attempts += 1;
      socket.destroy();
    });
    await new Promise<void>((resolve) => dropper.listen(0, '127.0.0.1', resolve));
    const port = (dropper.address() as AddressInfo).port;
    const url = `http://127.0.0.1:${port}`;
    const waiting = spawnCli(['listen', '--forward-to', receiver.url], { ...env, SWITCHBOARD_URL: url });
    running.push(waiting);
    await waitFor(() => attempts >= 3, 20_000, 'three attempts');
    const errors = () => waiting.output().split('\n').filter((line) => line.includes('[ERROR]'));
    expect(errors()).toHaveLength(1);
    expect(errors()[0]).toMatch(new RegExp(`\\[ERROR\\] .*${port}.*\\(--url, SWITCHBOARD_URL\\); retrying until it answers`));
    expect(waiting.output()).not.toMatch(/^\s+at /m);
    await new Promise<void>((resolve) => dropper.close(() => resolve()));
    // The hub comes up where listen was told to look: listen connects without being restarted.
    const late = await startHub(redis.url, { http: { port } });
    try {
      await waitFor(() => waiting.output().includes(`Ready! Forwarding`), 20_000, 'listen to connect to the late hub');
      expect(errors()).toHaveLength(1);
    } finally {
      await waiting.stop();
      await late.close();
    }
  });
});
