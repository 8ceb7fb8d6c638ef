import { execFile } from 'node:child_process';
import { randomBytes, scrypt, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { connect as connectTls, type TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { TestCa, type CertificateFiles } from './helpers/certificates.js';
import { postEvents, runCli, startChildHub, startHub, TEST_TOKEN, type ChildHub } from './helpers/hub.js';
import { startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const runFile = promisify(execFile);

interface CurlResult {
  exitCode: number;
  statusLine: string;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

/** The real curl; `-i` output split into status line, headers (lower-case names) and body bytes. */
async function curl(args: string[]): Promise<CurlResult> {
  let stdout = '';
  let stderr = '';
  let exitCode = 0;
  try {
    ({ stdout, stderr } = await runFile('curl', args, { timeout: 30_000 }));
  } catch (error) {
    const failed = error as { code?: number; stdout?: string; stderr?: string };
    exitCode = failed.code ?? -1;
    stdout = failed.stdout ?? '';
    stderr = failed.stderr ?? '';
  }
  const split = stdout.indexOf('\r\n\r\n');
  const head = split < 0 ? [] : stdout.slice(0, split).split('\r\n');
  const headers = Object.fromEntries(head.slice(1).map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { exitCode, statusLine: head[0] ?? '', headers, body: split < 0 ? '' : stdout.slice(split + 4), stderr };
}

const serialOf = (file: string) => new X509Certificate(readFileSync(file)).serialNumber;

/** A TLS connection kept open across requests (HTTP/1.1 keep-alive), to see which certificate it got and whether it survives. */
class KeptConnection {
  private received = '';
  closed = false;

  private constructor(readonly socket: TLSSocket) {
    socket.on('data', (chunk: Buffer) => (this.received += chunk.toString('latin1')));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async open(port: number, ca: string): Promise<KeptConnection> {
    const socket = connectTls({ host: '127.0.0.1', port, servername: 'localhost', ca: readFileSync(ca) });
    await once(socket, 'secureConnect');
    return new KeptConnection(socket);
  }

  get serial(): string {
    return this.socket.getPeerCertificate().serialNumber;
  }

  /** One GET on this connection; resolves the status line and body once Content-Length bytes arrived. */
  async get(path: string): Promise<{ statusLine: string; body: string }> {
    this.received = '';
    this.socket.write(`GET ${path} HTTP/1.1\r\nHost: localhost\r\nConnection: keep-alive\r\n\r\n`);
    let answer: { statusLine: string; body: string } | undefined;
    await waitFor(
      () => {
        const split = this.received.indexOf('\r\n\r\n');
        if (split < 0) return false;
        const head = this.received.slice(0, split);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1);
        const body = this.received.slice(split + 4);
        if (body.length < length) return false;
        answer = { statusLine: head.split('\r\n')[0] ?? '', body };
        return true;
      },
      10_000,
      `an answer to GET ${path}`,
    );
    return answer as { statusLine: string; body: string };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** The serial number of the certificate a new connection gets. */
async function servedSerial(port: number, ca: string): Promise<string> {
  const connection = await KeptConnection.open(port, ca);
  const serial = connection.serial;
  connection.close();
  return serial;
}

describe('HTTPS (http.tls), reverse proxies (http.trustProxy), webhooks to a private CA (webhooks.caFile)', () => {
  let dir: string;
  let root: TestCa;
  /** The hub's chain: root → intermediate → server. certFile holds the server's certificate alone, caFile the intermediate. */
  let intermediate: TestCa;
  let first: CertificateFiles;
  let renewed: CertificateFiles;
  let redis: TestRedis;

  beforeAll(async () => {
    dir = tempDir('switchboard-tls-');
    root = await TestCa.create(dir, 'root');
    intermediate = await root.intermediate('intermediate');
    first = await intermediate.server('server-first');
    renewed = await intermediate.server('server-renewed');
    redis = await startRedis({ appendOnly: false });
  });
  afterAll(async () => {
    await redis?.close();
  });

  describe("seed 004's CTI session with curl over https", () => {
    let hub: Hub;
    let base: string;

    beforeAll(async () => {
      hub = await startHub(redis.url, {
        keyPrefix: 'sbtls',
        http: { tls: { certFile: first.cert, keyFile: first.key, caFile: intermediate.files.cert } },
        cti: { users: [{ username: 'username', password: 'password' }], defaultPool: 'seed', pools: { seed: ['5551234568-5551234569'] } },
      });
      base = `https://localhost:${new URL(hub.url).port}`;
    });
    afterAll(async () => {
      await hub?.close();
    });

    it('POST 201 with Location, GET 200, DELETE 200: the bytes of the seed, the certificate verified by curl --cacert', async () => {
      expect(hub.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const tls = ['--cacert', root.files.cert];
      const created = await curl(['--user', 'username:password', '-v', '-i', '-H', 'Content-Type:application/json', '-X', 'POST', '-d', '{"value" : "12345678", "ani" : "1234567890"}', `${base}/cticache/DNIS-ANI`, ...tls]);
      expect(created.exitCode).toBe(0);
      expect(created.stderr).toContain('SSL certificate verify ok');
      expect(created.statusLine).toBe('HTTP/1.1 201 Created');
      expect(created.headers).toMatchObject({ location: '/cticache/DNIS-ANI/5551234568:1234567890', 'content-type': 'application/json; charset=utf-8', 'content-length': '59', connection: 'keep-alive' });
      expect(created.body).toBe('{"dnis":"5551234568","ani":"1234567890","value":"12345678"}');

      const fetched = await curl(['--user', 'username:password', '-v', '-i', `${base}/cticache/DNIS-ANI/5551234568:1234567890`, ...tls]);
      expect(fetched.statusLine).toBe('HTTP/1.1 200 OK');
      expect(fetched.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'content-length': '20' });
      expect(fetched.body).toBe('{"value":"12345678"}');

      const deleted = await curl(['--user', 'username:password', '-v', '-i', '-X', 'DELETE', `${base}/cticache/DNIS-ANI/5551234568:1234567890`, ...tls]);
      expect(deleted.statusLine).toBe('HTTP/1.1 200 OK');
      expect(deleted.headers).toMatchObject({ 'content-type': 'application/json; charset=utf-8', 'content-length': '20' });
      expect(deleted.body).toBe('{"value":"12345678"}');

      const gone = await curl(['--user', 'username:password', '-i', `${base}/cticache/DNIS-ANI/5551234568:1234567890`, ...tls]);
      expect(gone.statusLine).toBe('HTTP/1.1 404 Not Found');
    });

    it('curl without --cacert refuses the certificate (exit 60), and plain http gets no answer from the TLS port', async () => {
      const untrusted = await curl(['-sS', '--user', 'username:password', `${base}/cticache/DNIS-ANI/5551234568:1234567890`]);
      expect(untrusted.exitCode).toBe(60);
      expect(untrusted.stderr).toMatch(/unable to get local issuer certificate/);
      const plain = await curl(['-sS', '-i', `http://localhost:${new URL(hub.url).port}/healthz`]);
      expect(plain.statusLine).not.toMatch(/^HTTP\/1\.1 200/);
    });

    it('without caFile the intermediate is not sent: the same curl fails to verify', async () => {
      const incomplete = await startHub(redis.url, { keyPrefix: 'sbtls-nochain', http: { tls: { certFile: first.cert, keyFile: first.key } } });
      try {
        const answer = await curl(['-sS', '--cacert', root.files.cert, `https://localhost:${new URL(incomplete.url).port}/healthz`]);
        expect(answer.exitCode).toBe(60);
        expect(answer.stderr).toMatch(/unable to get local issuer certificate/);
      } finally {
        await incomplete.close();
      }
    });

    it('refuses to start on unusable files, naming the key to fix', async () => {
      await expect(startHub(redis.url, { keyPrefix: 'sbtls-bad', http: { tls: { certFile: join(dir, 'missing.pem'), keyFile: first.key } } })).rejects.toThrow(
        `http.tls.certFile: cannot read ${join(dir, 'missing.pem')}: ENOENT`,
      );
      await expect(startHub(redis.url, { keyPrefix: 'sbtls-bad', http: { tls: { certFile: first.cert, keyFile: renewed.key } } })).rejects.toThrow(
        /^http\.tls: .*server-first\.pem with .*server-renewed\.key is not a usable certificate and key: .*key values mismatch/,
      );
      await expect(startHub(redis.url, { keyPrefix: 'sbtls-bad', http: { tls: { certFile: first.key, keyFile: first.key } } })).rejects.toThrow(
        `http.tls.certFile: ${first.key} holds no PEM certificate (-----BEGIN …CERTIFICATE-----)`,
      );
    });
  });

  describe('SIGHUP reloads the certificate (the built CLI)', () => {
    let child: ChildHub;
    let port: number;
    let hubEnv: Record<string, string>;
    const live = () => ({ cert: join(dir, 'live.pem'), key: join(dir, 'live.key') });
    const install = (files: CertificateFiles) => {
      copyFileSync(files.key, live().key);
      copyFileSync(files.cert, live().cert);
    };

    beforeAll(async () => {
      install(first);
      const config = join(dir, 'switchboard.yaml');
      writeFileSync(config, `http:\n  tls:\n    certFile: ${live().cert}\n    keyFile: ${live().key}\n    caFile: ${intermediate.files.cert}\n`);
      hubEnv = { SWITCHBOARD_CONFIG: config, SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_KEY_PREFIX: 'sbtls-hup' };
      child = await startChildHub({ ...hubEnv, SWITCHBOARD_DATA_DIR: tempDir('switchboard-data-'), SWITCHBOARD_LOG_LEVEL: 'info' });
      port = Number(new URL(child.url).port);
    });
    afterAll(async () => {
      await child?.kill();
    });

    it("the CLI beside it, in the hub's environment, reaches it over https (the private CA in NODE_EXTRA_CA_CERTS)", async () => {
      const env = { ...hubEnv, SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_API_TOKEN: TEST_TOKEN, NODE_EXTRA_CA_CERTS: root.files.cert };
      const { code, output } = await runCli(['trigger', 'queued-call'], env);
      expect(output).toMatch(/Trigger succeeded! \d+ events accepted/);
      expect(code).toBe(0);
    });

    it('new connections get the renewed certificate; a keep-alive connection opened before stays open and keeps answering', async () => {
      const kept = await KeptConnection.open(port, root.files.cert);
      expect(kept.serial).toBe(serialOf(first.cert));
      expect(await kept.get('/healthz')).toEqual({ statusLine: 'HTTP/1.1 200 OK', body: '{"status":"ok"}' });

      install(renewed);
      child.process.kill('SIGHUP');
      await waitFor(async () => (await servedSerial(port, root.files.cert)) === serialOf(renewed.cert), 20_000, 'new connections to get the renewed certificate');
      // The log line is written after the new context is in place: a connection can see the certificate first.
      await waitFor(() => /"subject":"CN=server-renewed".*"msg":"TLS certificate reloaded"/.test(child.output()), 10_000, 'the reload logged');

      expect(await kept.get('/healthz')).toEqual({ statusLine: 'HTTP/1.1 200 OK', body: '{"status":"ok"}' });
      expect(kept.closed).toBe(false);
      expect(kept.serial).toBe(serialOf(first.cert));

      // A broken renewal is refused, and the current certificate stays.
      writeFileSync(live().cert, 'not a certificate\n');
      child.process.kill('SIGHUP');
      await waitFor(() => child.output().includes('TLS certificate not reloaded'), 20_000, 'the refused reload to be logged');
      expect(child.output()).toContain(`TLS certificate not reloaded, the previous one is still served: http.tls.certFile: ${live().cert} holds no PEM certificate`);
      expect(await servedSerial(port, root.files.cert)).toBe(serialOf(renewed.cert));
      expect(await kept.get('/healthz')).toEqual({ statusLine: 'HTTP/1.1 200 OK', body: '{"status":"ok"}' });
      expect(kept.closed).toBe(false);
      kept.close();

      expect(await child.kill('SIGTERM')).toBe(0);
    });
  });

  describe('http.trustProxy: the per-address password-check throttle keys on the real client address', () => {
    let behindProxy: Hub;
    let direct: Hub;
    let wrongPasswords = 0;

    beforeAll(async () => {
      // A costly hash keeps the first check running while the second request arrives.
      const salt = randomBytes(16);
      const cost = { N: 65_536, r: 8, p: 1 };
      const key = await promisify<string, Buffer, number, typeof cost & { maxmem: number }, Buffer>(scrypt)('password', salt, 32, { ...cost, maxmem: 256 * cost.N * cost.r + 1_048_576 });
      const passwordHash = `scrypt$${cost.N}$${cost.r}$${cost.p}$${salt.toString('base64')}$${key.toString('base64')}`;
      const cti = {
        users: [{ username: 'username', passwordHash }],
        pools: { seed: ['5551234568-5551234569'] },
        maxConcurrentChecks: 8,
        maxConcurrentChecksPerAddress: 1,
        maxChecksPerSecond: 100,
      };
      behindProxy = await startHub(redis.url, { keyPrefix: 'sbproxy', http: { trustProxy: ['127.0.0.1'] }, cti });
      direct = await startHub(redis.url, { keyPrefix: 'sbdirect', http: { trustProxy: ['10.0.0.0/8'] }, cti });
    });
    afterAll(async () => {
      await behindProxy?.close();
      await direct?.close();
    });

    /** Two wrong passwords at once (each needs its own check), from the given X-Forwarded-For values; the answers in request order. */
    async function twoAtOnce(hub: Hub, forwardedFor: [string, string]): Promise<{ status: number; message: string }[]> {
      return Promise.all(
        forwardedFor.map(async (forwarded) => {
          wrongPasswords += 1;
          const response = await fetch(`${hub.url}/cticache/DNIS-ANI/5551234568:1234567890`, {
            headers: { authorization: `Basic ${Buffer.from(`username:wrong-${wrongPasswords}`).toString('base64')}`, 'x-forwarded-for': forwarded },
          });
          return { status: response.status, message: ((await response.json()) as { error: { message: string } }).error.message };
        }),
      );
    }

    it('behind a listed proxy: two clients are two addresses; one client twice is throttled by its own address', async () => {
      const two = await twoAtOnce(behindProxy, ['203.0.113.8', '203.0.113.9']);
      expect(two.map((answer) => answer.status)).toEqual([401, 401]);

      // The client's own X-Forwarded-For entries (left of the proxy's) are not believed: the address the proxy saw counts.
      const one = await twoAtOnce(behindProxy, ['203.0.113.7', '10.9.9.9, 203.0.113.7']);
      expect(one.map((answer) => answer.status).sort()).toEqual([401, 429]);
      expect(one.find((answer) => answer.status === 429)?.message).toBe('1 password checks from 203.0.113.7 are running; retry in a second');
    });

    it('from a peer that is not a listed proxy, X-Forwarded-For is ignored: the socket address counts', async () => {
      const answers = await twoAtOnce(direct, ['203.0.113.8', '203.0.113.9']);
      expect(answers.map((answer) => answer.status).sort()).toEqual([401, 429]);
      expect(answers.find((answer) => answer.status === 429)?.message).toBe('1 password checks from 127.0.0.1 are running; retry in a second');
    });

    it('an entry that is no address, range or name refuses the start, naming it', async () => {
      await expect(startHub(redis.url, { keyPrefix: 'sbproxy-bad', http: { trustProxy: ['10.0.0.0/8', 'my-proxy'] } })).rejects.toThrow(
        'http.trustProxy[1]: "my-proxy" is not an IP address, a CIDR range (10.0.0.0/8), or one of loopback, linklocal, uniquelocal',
      );
    });
  });

  describe('webhooks.caFile: post-urls over https to a receiver with its own CA', () => {
    let receiverCa: TestCa;
    let receiver: HttpsServer;
    let postUrl: string;
    const received: { headers: Record<string, unknown>; body: string }[] = [];
    let trusting: Hub;
    let untrusting: Hub;
    const webhooks = { allowPrivateTargets: true, stableAfterMs: 0, batchLingerMs: 10, retryScheduleMs: [100, 100, 100], retryJitter: 0, throttleFloorMs: 0, pollIntervalMs: 100 };

    beforeAll(async () => {
      receiverCa = await TestCa.create(dir, 'receiver-ca');
      const files = await receiverCa.server('receiver');
      receiver = createHttpsServer({ cert: readFileSync(files.cert), key: readFileSync(files.key) }, (request, response) => {
        const chunks: Buffer[] = [];
        request.on('data', (chunk: Buffer) => chunks.push(chunk));
        request.on('end', () => {
          received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8') });
          response.end('ok');
        });
      });
      receiver.listen(0, '127.0.0.1');
      await once(receiver, 'listening');
      postUrl = `https://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      trusting = await startHub(redis.url, { keyPrefix: 'sbhook-ca', webhooks: { ...webhooks, caFile: receiverCa.files.cert } });
      untrusting = await startHub(redis.url, { keyPrefix: 'sbhook-noca', webhooks });
    });
    afterAll(async () => {
      await trusting?.close();
      await untrusting?.close();
      receiver?.closeAllConnections();
      receiver?.close();
    });

    async function subscribe(hub: Hub): Promise<string> {
      const response = await fetch(`${hub.url}/v1/subscriptions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'agent', 'post-url': postUrl }),
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { id: string }).id;
    }
    const subscription = async (hub: Hub, id: string) =>
      (await (await fetch(`${hub.url}/v1/subscriptions/${id}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).json()) as Record<string, unknown>;
    const statusEvent = (id: string, agent: string) => ({ id, type: 'agent.status_changed', data: { agent, status: 'available' } });

    it('with the receiver CA in webhooks.caFile, the post arrives signed, once', async () => {
      const id = await subscribe(trusting);
      expect((await postEvents(trusting.url, [statusEvent('tls-hook-1', '1001')])).status).toBe(202);
      await waitFor(() => received.length >= 1, 30_000, 'the post over https');
      expect(received).toHaveLength(1);
      const [post] = received;
      expect(post?.headers['x-correlation-id']).toBe(id);
      expect(post?.headers['webhook-signature']).toMatch(/^v1,/);
      const objects = JSON.parse(post?.body ?? '[]') as Record<string, unknown>[];
      expect(objects).toHaveLength(1);
      expect(objects[0]).toMatchObject({ model: 'agent', id: 'tls-hook-1', type: 'agent.status_changed', data: { agent: '1001', status: 'available' } });
      await waitFor(async () => (await subscription(trusting, id))['posts-count'] === 1, 10_000, 'the post to be counted');
    });

    it('without it, the post is refused at the handshake and last-error says why and what to set', async () => {
      const before = received.length;
      const id = await subscribe(untrusting);
      expect((await postEvents(untrusting.url, [statusEvent('tls-hook-2', '1002')])).status).toBe(202);
      await waitFor(async () => (await subscription(untrusting, id))['last-error'] !== undefined, 30_000, 'the failed attempt to be recorded');
      const host = new URL(postUrl).host;
      expect((await subscription(untrusting, id))['last-error']).toBe(
        `TLS: the certificate of ${host} is not signed by a trusted CA (UNABLE_TO_VERIFY_LEAF_SIGNATURE: unable to verify the first certificate); add its CA to webhooks.caFile`,
      );
      expect(received).toHaveLength(before);
    });

    it('an unreadable webhooks.caFile refuses the start, naming it', async () => {
      await expect(startHub(redis.url, { keyPrefix: 'sbhook-bad', webhooks: { caFile: join(dir, 'missing-ca.pem') } })).rejects.toThrow(
        `webhooks.caFile: cannot read ${join(dir, 'missing-ca.pem')}: ENOENT`,
      );
    });
  });
});
