import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { eventLogKey } from '../src/redis/keys.js';
import { AMI_SECRET, AMI_USER, AmiDriver, RealAsterisk } from './helpers/asterisk.js';
import { startFakeAsterisk } from './helpers/fake-asterisk.js';
import { callcenterEvent, startFakeFreeswitch } from './helpers/fake-freeswitch.js';
import { runCli, startHub } from './helpers/hub.js';
import { connectClient, freePort, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { sleep, waitFor } from './helpers/wait.js';

/*
 * `switchboard pbx record` and `switchboard pbx play` (the built CLI): a session recorded from a
 * real Asterisk 22 and played into a fresh hub gives the hub the same catalogue events as a hub
 * that listened to Asterisk live; a recording holds no credential.
 */

interface LoggedEvent {
  id: string;
  type: string;
  time: string;
  data: Record<string, unknown>;
}

interface RecordingLine {
  at?: string;
  connection?: number;
  login?: string;
  opened?: boolean;
  closed?: boolean;
  in?: { banner?: string; headers?: Record<string, string>; body?: string };
  out?: { headers?: Record<string, string>; command?: string };
}

const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));

/** A long-running CLI command (record, play) in a child process. */
interface CliProcess {
  child: ChildProcess;
  output: () => string;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const running: CliProcess[] = [];

function spawnCli(args: string[], env: Record<string, string> = {}): CliProcess {
  let output = '';
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = once(child, 'exit');
  const cli: CliProcess = {
    child,
    output: () => output,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
  running.push(cli);
  return cli;
}

async function waitForOutput(cli: CliProcess, text: string, what: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(() => cli.output().includes(text) || cli.child.exitCode !== null, timeoutMs, what);
  if (!cli.output().includes(text)) throw new Error(`${what}: the command exited:\n${cli.output()}`);
}

function readLines(file: string): RecordingLine[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line) => JSON.parse(line) as RecordingLine);
}

/** Catalogue events as a comparison sees them: source.* (connection bookkeeping, times of the resync) aside. */
const catalogue = (events: LoggedEvent[]) =>
  events.filter((event) => !event.type.startsWith('source.')).map((event) => ({ type: event.type, id: event.id, data: event.data }));

afterEach(async () => {
  for (const cli of running.splice(0)) await cli.stop('SIGKILL');
});

describe('pbx record and play against a real Asterisk 22', () => {
  let redis: TestRedis;
  let client: Awaited<ReturnType<typeof connectClient>>;
  let asterisk: RealAsterisk;
  let ami: AmiDriver;
  const hubs: Hub[] = [];

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = await connectClient(redis.url);
    asterisk = await RealAsterisk.start({ queues: { recanswer: { servicelevel: 5 }, recabandon: { servicelevel: 5 }, recearly: { servicelevel: 5 } } });
    ami = await AmiDriver.connect(asterisk.amiPort);
  }, 20 * 60_000);
  afterAll(async () => {
    for (const hub of hubs.splice(0)) await hub.close();
    await ami?.close();
    await asterisk?.close();
    await client?.quit();
    await redis?.close();
  });

  const sourceConfig = (port: number) => ({
    type: 'asterisk',
    name: 'pbx',
    host: '127.0.0.1',
    port,
    username: AMI_USER,
    secret: AMI_SECRET,
    reconnectInitialMs: 100,
    reconnectMaxMs: 1000,
    cdrSettleMs: 300,
  });

  async function log(keyPrefix: string): Promise<LoggedEvent[]> {
    const entries = await client.xRange(eventLogKey(keyPrefix), '-', '+');
    return (entries ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
  }

  async function startPbxHub(keyPrefix: string, port: number): Promise<Hub> {
    const hub = await startHub(redis.url, { keyPrefix, sources: [sourceConfig(port)] });
    hubs.push(hub);
    await waitFor(async () => (await log(keyPrefix)).some((event) => event.type === 'source.resynced'), 30_000, `${keyPrefix}'s first resync`);
    return hub;
  }

  async function action(fields: Record<string, string>): Promise<void> {
    const { response } = await ami.action(fields);
    expect(response.headers.Response).toBe('Success');
  }

  async function waitForRecord(keyPrefix: string, callId: string): Promise<void> {
    await waitFor(
      async () => (await log(keyPrefix)).some((event) => event.type === 'cdr.created' && event.data.call_id === callId),
      60_000,
      `the record of call ${callId}`,
    );
  }

  /**
   * A call's record is taken on a timer (cdrSettleMs after the call ended), and the next step
   * was driven the moment the live hub logged it, so in the recording the two are only a poll
   * apart; a replayed timer could fire either side of it. Spacing the steps out makes the
   * recording say which came first.
   */
  const leaveRoomAfterRecord = () => sleep(1000);

  it('a recorded session (an answered call, an abandoned call, a pause) played into a fresh hub gives the same catalogue events as the live hub', async () => {
    const dir = tempDir('switchboard-pbx-');
    const configFile = join(dir, 'config.json');
    const recordingFile = join(dir, 'session.jsonl');
    writeFileSync(configFile, JSON.stringify({ redis: { url: redis.url }, sources: [sourceConfig(asterisk.amiPort)] }));

    const live = 'reclive';
    await startPbxHub(live, asterisk.amiPort);
    const recorder = spawnCli(['pbx', 'record', 'pbx', '--out', recordingFile, '--duration', '10m'], { SWITCHBOARD_CONFIG: configFile });
    await waitForOutput(recorder, 'Asterisk resynced', 'the recorder to log in and resync');

    await action({ Action: 'QueueAdd', Queue: 'recanswer', Interface: 'Local/1101@agents', MemberName: 'amy' });
    const answered = await ami.originate('recanswer', '5552101', 20);
    await waitForRecord(live, answered);
    await leaveRoomAfterRecord();
    await action({ Action: 'QueueAdd', Queue: 'recabandon', Interface: 'Local/1201@agents', MemberName: 'abe' });
    await action({ Action: 'QueuePause', Queue: 'recabandon', Interface: 'Local/1201@agents', Paused: 'true', Reason: 'lunch' });
    const abandoned = await ami.originate('recabandon', '5552201', 3);
    await waitForRecord(live, abandoned);
    await leaveRoomAfterRecord();
    await action({ Action: 'QueuePause', Queue: 'recabandon', Interface: 'Local/1201@agents', Paused: 'false' });
    const abe = async () => (await log(live)).filter((event) => event.type === 'agent.status_changed' && event.data.agent === 'abe');
    await waitFor(async () => (await abe()).length === 3, 20_000, "abe's log in, pause and unpause in the live hub");
    // The recorder hears what the live hub heard, on its own session.
    await waitFor(() => readFileSync(recordingFile, 'utf8').includes('"Paused":"0"'), 20_000, 'the unpause in the recording');
    expect(await recorder.stop('SIGTERM')).toBe(0);
    expect(recorder.output()).toContain('recording written');

    const expected = catalogue(await log(live));
    expect(expected.filter((event) => event.type === 'cdr.created').map((event) => event.data.call_id)).toEqual([answered, abandoned]);
    expect(expected.filter((event) => event.type === 'agent.status_changed').map((event) => `${String(event.data.agent)}:${String(event.data.status)}`)).toEqual([
      'amy:available',
      'amy:busy',
      'amy:available',
      'abe:available',
      'abe:not_ready',
      'abe:available',
    ]);

    // What the file holds: one connection, its login redacted, the hub's resync actions and their answers.
    const text = readFileSync(recordingFile, 'utf8');
    expect(text).not.toContain(AMI_SECRET);
    const lines = readLines(recordingFile);
    expect(lines[0]).toMatchObject({ recording: 'switchboard-pbx', version: 1, kind: 'asterisk', source: 'pbx' });
    const body = lines.slice(1);
    expect(body.filter((line) => line.opened)).toHaveLength(1);
    expect(body.filter((line) => line.login)).toEqual([expect.objectContaining({ login: 'redacted', connection: 1 })]);
    expect(body.some((line) => line.in?.banner?.startsWith('Asterisk Call Manager/'))).toBe(true);
    expect(body.filter((line) => line.out).map((line) => line.out!.headers!.Action)).toEqual(['CoreStatus', 'GetConfig', 'QueueStatus']);
    expect(text).not.toMatch(/"(Secret|Key|Challenge|Username)"/);
    expect(body.some((line) => line.in?.headers?.Event === 'AgentConnect' && line.in.headers.Linkedid === answered)).toBe(true);

    // Played at the recorded pace into a fresh hub: the same events, in the same order.
    const port = await freePort();
    const player = spawnCli(['pbx', 'play', recordingFile, '--port', String(port), '--speed', '1']);
    await waitForOutput(player, 'playing a PBX recording', 'the player to listen');
    await startPbxHub('recplayed', port);
    await waitFor(async () => catalogue(await log('recplayed')).length >= expected.length, 90_000, 'the played hub to catch up with the live one');
    await waitForOutput(player, 'every recorded connection has been played', 'the player to finish');
    expect(catalogue(await log('recplayed'))).toEqual(expected);
    const sources = (await log('recplayed')).filter((event) => event.type.startsWith('source.'));
    expect(sources.map((event) => `${event.type}:${String(event.data.reason)}`)).toEqual(['source.resynced:connected']);
    expect(player.output()).not.toContain('does not answer');
    expect(await player.stop('SIGTERM')).toBe(0);

    // As fast as possible: the same events. Records are taken cdrSettleMs after a call ends, so at
    // full speed they may land after later events of the session; the set is the same.
    const fastPort = await freePort();
    const fast = spawnCli(['pbx', 'play', recordingFile, '--port', String(fastPort), '--speed', 'max']);
    await waitForOutput(fast, 'playing a PBX recording', 'the fast player to listen');
    await startPbxHub('recfast', fastPort);
    await waitFor(async () => catalogue(await log('recfast')).length >= expected.length, 30_000, 'the fast-played hub to catch up');
    await waitForOutput(fast, 'every recorded connection has been played', 'the fast player to finish');
    const byId = (a: { id: string }, b: { id: string }) => a.id.localeCompare(b.id);
    expect(catalogue(await log('recfast')).sort(byId)).toEqual([...expected].sort(byId));
  });

  it('a caller already waiting when the recording starts: the player answers the resync\'s CoreShowChannels too', async () => {
    const dir = tempDir('switchboard-pbx-');
    const configFile = join(dir, 'config.json');
    const recordingFile = join(dir, 'session.jsonl');
    writeFileSync(configFile, JSON.stringify({ redis: { url: redis.url }, sources: [sourceConfig(asterisk.amiPort)] }));
    const callId = await ami.originate('recearly', '5552301', 30);
    const live = 'recearlylive';
    await startPbxHub(live, asterisk.amiPort);
    const recorder = spawnCli(['pbx', 'record', 'pbx', '--out', recordingFile], { SWITCHBOARD_CONFIG: configFile });
    await waitForOutput(recorder, 'Asterisk resynced', 'the recorder to log in and resync');
    await action({ Action: 'QueueAdd', Queue: 'recearly', Interface: 'Local/1301@agents', MemberName: 'eve' });
    await waitForRecord(live, callId);
    await leaveRoomAfterRecord();
    expect(await recorder.stop('SIGTERM')).toBe(0);
    const actions = readLines(recordingFile)
      .slice(1)
      .filter((line) => line.out)
      .map((line) => line.out!.headers!.Action);
    expect(actions).toEqual(['CoreStatus', 'GetConfig', 'QueueStatus', 'CoreShowChannels']);

    const port = await freePort();
    const player = spawnCli(['pbx', 'play', recordingFile, '--port', String(port), '--speed', '1']);
    await waitForOutput(player, 'playing a PBX recording', 'the player to listen');
    await startPbxHub('recearlyplayed', port);
    const expected = catalogue(await log(live));
    await waitFor(async () => catalogue(await log('recearlyplayed')).length >= expected.length, 60_000, 'the played hub to catch up with the live one');
    await waitForOutput(player, 'every recorded connection has been played', 'the player to finish');
    expect(player.output()).not.toContain('does not answer');
    // A caller found waiting is dated from the hub's clock at its resync (minus Asterisk's Wait),
    // so its queued_at is the replay's; everything else is the same.
    const withoutResyncClock = (events: ReturnType<typeof catalogue>) =>
      events.map((event) => ({ ...event, data: Object.fromEntries(Object.entries(event.data).filter(([key]) => key !== 'queued_at')) }));
    const played = catalogue(await log('recearlyplayed'));
    expect(withoutResyncClock(played)).toEqual(withoutResyncClock(expected));
    expect(played.map((event) => event.type)).toEqual(expect.arrayContaining(['call.queued', 'call.connected', 'cdr.created']));
    expect(played.find((event) => event.type === 'call.queued')).toMatchObject({ id: `ami:waiting:${callId}:recearly`, data: { call_id: callId, caller_id: '5552301' } });
  });
});

describe('pbx record and play against loopback AMI and ESL peers', () => {
  it('an AMI recording holds no credential, with a plain-text secret or with MD5: no secret, challenge, key or login answer', async () => {
    for (const authType of ['plain', 'md5'] as const) {
      const fake = await startFakeAsterisk({ secret: 'plain-secret-4711' });
      fake.queueStatus = [{ Event: 'QueueParams', Queue: 'sales', Max: '0', Strategy: 'ringall', Calls: '0' }];
      const dir = tempDir('switchboard-pbx-');
      const configFile = join(dir, 'config.json');
      const recordingFile = join(dir, 'session.jsonl');
      writeFileSync(
        configFile,
        JSON.stringify({ sources: [{ type: 'asterisk', name: 'ami', host: '127.0.0.1', port: fake.port, username: fake.username, secret: fake.secret, authType }] }),
      );
      try {
        const recorder = spawnCli(['pbx', 'record', 'ami', '--out', recordingFile], { SWITCHBOARD_CONFIG: configFile });
        await waitForOutput(recorder, 'Asterisk resynced', `the ${authType} recorder to resync`);
        // An event that happens to carry the secret is masked too.
        fake.send({ Event: 'UserEvent', UserEvent: 'note', Body: `the password is ${fake.secret}` });
        // Another client's failed login, as Asterisk's security events tell it to every session.
        fake.send({ Event: 'InvalidPassword', Privilege: 'security,all', AccountID: 'mallory', Challenge: '884417312', ReceivedChallenge: '884417312', ReceivedHash: '5f4dcc3b5aa765d61d8327deb882cf99' });
        await waitFor(() => readFileSync(recordingFile, 'utf8').includes('InvalidPassword'), 10_000, 'both events in the recording');
        expect(await recorder.stop('SIGINT')).toBe(0);
        const text = readFileSync(recordingFile, 'utf8');
        expect(fake.actions.map((action) => action.Action)).toContain('Login');
        expect(text).not.toContain(fake.secret);
        expect(text).not.toMatch(/"(Secret|Key|Username)"/);
        expect(text).not.toMatch(/mallory|884417312|5f4dcc3b/);
        expect(text).not.toContain('Authentication accepted');
        const lines = readLines(recordingFile).slice(1);
        expect(lines.filter((line) => line.login)).toHaveLength(1);
        expect(lines.find((line) => line.in?.headers?.Event === 'UserEvent')?.in?.headers?.Body).toBe('the password is [redacted]');
        expect(lines.find((line) => line.in?.headers?.Event === 'InvalidPassword')?.in?.headers).toEqual({
          Event: 'InvalidPassword',
          Privilege: 'security,all',
          AccountID: '[redacted]',
          Challenge: '[redacted]',
          ReceivedChallenge: '[redacted]',
          ReceivedHash: '[redacted]',
        });
      } finally {
        await fake.close();
      }
    }
  });

  it('an ESL recording holds no password, and played into a hub gives the events a live hub got', async () => {
    const redis = await startRedis({ appendOnly: false });
    const client = await connectClient(redis.url);
    const fake = await startFakeFreeswitch({ password: 'esl-pass-0815' });
    fake.agents = [{ name: '1000@default', status: 'Available', lastStatusChange: 1764669600 }];
    const dir = tempDir('switchboard-pbx-');
    const configFile = join(dir, 'config.json');
    const recordingFile = join(dir, 'session.jsonl');
    const source = (port: number) => ({ type: 'freeswitch', name: 'fs', host: '127.0.0.1', port, password: fake.password, reconnectInitialMs: 100 });
    writeFileSync(configFile, JSON.stringify({ sources: [source(fake.port)] }));
    const hubs: Hub[] = [];
    const log = async (keyPrefix: string) =>
      ((await client.xRange(eventLogKey(keyPrefix), '-', '+')) ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    try {
      hubs.push(await startHub(redis.url, { keyPrefix: 'esllive', sources: [source(fake.port)] }));
      const recorder = spawnCli(['pbx', 'record', 'fs', '--out', recordingFile, '--duration', '5m'], { SWITCHBOARD_CONFIG: configFile });
      await waitForOutput(recorder, 'FreeSWITCH resynced', 'the ESL recorder to resync');
      await fake.waitForSubscriber(2);
      await waitFor(async () => (await log('esllive')).some((event) => event.type === 'source.resynced'), 20_000, 'the live hub to resync');
      const at = new Date('2026-11-21T10:00:00Z');
      fake.send(callcenterEvent(fake.coreUuid, 10, { 'CC-Action': 'agent-status-change', 'CC-Agent': '1000@default', 'CC-Agent-Status': 'On Break' }, at));
      fake.send(callcenterEvent(fake.coreUuid, 11, { 'CC-Action': 'agent-status-change', 'CC-Agent': '1000@default', 'CC-Agent-Status': 'Available' }, at));
      await waitFor(async () => catalogue(await log('esllive')).length === 3, 20_000, 'the live hub to log the resync correction and two changes');
      await waitFor(() => readFileSync(recordingFile, 'utf8').split('agent-status-change').length === 3, 10_000, 'both changes in the recording');
      expect(await recorder.stop('SIGTERM')).toBe(0);

      const text = readFileSync(recordingFile, 'utf8');
      expect(fake.commands).toContain(`auth ${fake.password}`);
      expect(text).not.toContain(fake.password);
      expect(text).not.toContain('auth ');
      const lines = readLines(recordingFile).slice(1);
      expect(lines.filter((line) => line.login)).toHaveLength(1);
      expect(lines.filter((line) => line.out).map((line) => line.out!.command)).toEqual([
        'event json CUSTOM callcenter::info CHANNEL_HANGUP_COMPLETE',
        'api global_getvar core_uuid',
        'api callcenter_config agent list',
        'api callcenter_config queue list',
      ]);

      const port = await freePort();
      // At the recorded pace: the events came 50 ms after the resync's last answer. Played at
      // once they could share its TCP read and be mapped before the resync compares statuses.
      const player = spawnCli(['pbx', 'play', recordingFile, '--port', String(port), '--speed', '1']);
      await waitForOutput(player, 'playing a PBX recording', 'the ESL player to listen');
      hubs.push(await startHub(redis.url, { keyPrefix: 'eslplayed', sources: [{ ...source(port), password: 'anything' }] }));
      await waitForOutput(player, 'every recorded connection has been played', 'the ESL player to finish');
      await waitFor(async () => catalogue(await log('eslplayed')).length >= 3, 20_000, 'the played hub to log three events');
      expect(catalogue(await log('eslplayed'))).toEqual(catalogue(await log('esllive')));
      expect(player.output()).not.toContain('does not answer');
    } finally {
      for (const hub of hubs) await hub.close();
      await fake.close();
      await client.quit();
      await redis.close();
    }
  });

  it('a connection the PBX dropped is recorded as two, and played back as two: the hub reconnects and logs the same events', async () => {
    const redis = await startRedis({ appendOnly: false });
    const client = await connectClient(redis.url);
    const fake = await startFakeFreeswitch();
    fake.agents = [{ name: '1000@default', status: 'Available', lastStatusChange: 1764669600 }];
    const dir = tempDir('switchboard-pbx-');
    const configFile = join(dir, 'config.json');
    const recordingFile = join(dir, 'session.jsonl');
    const source = (port: number) => ({ type: 'freeswitch', name: 'fs', host: '127.0.0.1', port, reconnectInitialMs: 100, reconnectMaxMs: 200 });
    writeFileSync(configFile, JSON.stringify({ sources: [source(fake.port)] }));
    const hubs: Hub[] = [];
    const log = async (keyPrefix: string) =>
      ((await client.xRange(eventLogKey(keyPrefix), '-', '+')) ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
    const at = new Date('2026-11-21T10:00:00Z');
    const change = (sequence: number, status: string) =>
      fake.send(callcenterEvent(fake.coreUuid, sequence, { 'CC-Action': 'agent-status-change', 'CC-Agent': '1000@default', 'CC-Agent-Status': status }, at));
    try {
      hubs.push(await startHub(redis.url, { keyPrefix: 'droplive', sources: [source(fake.port)] }));
      const recorder = spawnCli(['pbx', 'record', 'fs', '--out', recordingFile], { SWITCHBOARD_CONFIG: configFile });
      await waitForOutput(recorder, 'FreeSWITCH resynced', 'the recorder to resync');
      await fake.waitForSubscriber(2);
      change(10, 'On Break');
      await waitFor(() => readFileSync(recordingFile, 'utf8').includes('On Break'), 10_000, 'the break in the recording');
      await waitFor(async () => (await log('droplive')).some((event) => event.data.status === 'on_break'), 10_000, 'the break in the live hub');
      fake.drop();
      await waitFor(() => readLines(recordingFile).filter((line) => line.login).length === 2, 20_000, 'the recorder to log in again');
      await waitFor(async () => (await log('droplive')).filter((event) => event.type === 'source.resynced').length === 2, 20_000, 'the live hub to resync again');
      await waitFor(() => readFileSync(recordingFile, 'utf8').split('callcenter_config queue list').length === 3, 10_000, 'the second resync in the recording');
      change(11, 'Logged Out');
      await waitFor(() => readFileSync(recordingFile, 'utf8').includes('Logged Out'), 10_000, 'the log out in the recording');
      await waitFor(async () => (await log('droplive')).some((event) => event.data.status === 'offline'), 10_000, 'the log out in the live hub');
      expect(await recorder.stop('SIGTERM')).toBe(0);
      const lines = readLines(recordingFile).slice(1);
      expect(lines.filter((line) => line.opened || line.closed).map((line) => `${line.connection}:${line.opened ? 'opened' : 'closed'}`)).toEqual([
        '1:opened',
        '1:closed',
        '2:opened',
      ]);

      const port = await freePort();
      const player = spawnCli(['pbx', 'play', recordingFile, '--port', String(port), '--speed', '1']);
      await waitForOutput(player, 'playing a PBX recording', 'the player to listen');
      hubs.push(await startHub(redis.url, { keyPrefix: 'dropplayed', sources: [source(port)] }));
      await waitForOutput(player, 'every recorded connection has been played', 'the player to play both connections');
      const expected = catalogue(await log('droplive'));
      await waitFor(async () => catalogue(await log('dropplayed')).length >= expected.length, 20_000, 'the played hub to catch up');
      expect(catalogue(await log('dropplayed'))).toEqual(expected);
      const sources = (await log('dropplayed')).filter((event) => event.type.startsWith('source.'));
      expect(sources.map((event) => `${event.type}:${String(event.data.reason)}`)).toEqual(['source.resynced:connected', 'source.gap:disconnected', 'source.resynced:reconnected']);
      expect(player.output()).not.toContain('does not answer');
    } finally {
      for (const hub of hubs) await hub.close();
      await fake.close();
      await client.quit();
      await redis.close();
    }
  });

  it('refuses an unknown source name, a file that is not a recording and a port in use', async () => {
    const dir = tempDir('switchboard-pbx-');
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ sources: [{ type: 'freeswitch', name: 'fs', host: '127.0.0.1' }] }));
    const unknown = await runCli(['pbx', 'record', 'nope', '--out', join(dir, 'x.jsonl')], { SWITCHBOARD_CONFIG: configFile });
    expect(unknown.code).toBe(1);
    expect(unknown.output).toContain('CONFIG_INVALID: sources: no source named "nope" (the config has fs)');
    const notRecording = join(dir, 'not.jsonl');
    writeFileSync(notRecording, '{"hello":1}\n');
    const refused = await runCli(['pbx', 'play', notRecording, '--port', String(await freePort())], {});
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('VALIDATION_FAILED');
    expect(refused.output).toContain('not a PBX recording');
    const recording = join(dir, 'empty.jsonl');
    writeFileSync(recording, '{"recording":"switchboard-pbx","version":1,"kind":"asterisk","source":"pbx","startedAt":"2026-12-06T00:00:00.000Z"}\n');
    const busy = createServer();
    busy.listen(0, '127.0.0.1');
    await once(busy, 'listening');
    try {
      const port = (busy.address() as AddressInfo).port;
      const inUse = await runCli(['pbx', 'play', recording, '--port', String(port)], {});
      expect(inUse.code).toBe(1);
      expect(inUse.output).toContain(`CONFIG_INVALID: --port ${port}: cannot listen`);
    } finally {
      busy.close();
    }
  });
});
