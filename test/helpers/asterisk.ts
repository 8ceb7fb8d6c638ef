import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { AmiParser, formatAction, type AmiMessage } from '../../src/sources/asterisk/parser.js';
import { freePort } from './redis.js';
import { sleep, waitFor } from './wait.js';

/*
 * A real Asterisk for the suite: Debian's `asterisk` package from sid, in a debootstrap chroot
 * built once per machine outside the clone and reused by every run. Each instance gets its own
 * config, run, spool, log and astdb folders inside the chroot (so test files run side by side)
 * and its own free AMI port. Needs root (chroot, mount), as CI runs.
 */

export const ASTERISK_ROOT = '/var/cache/switchboard-test/asterisk-sid';
export const AMI_USER = 'switchboard';
export const AMI_SECRET = 'real-asterisk-secret';
const BUILD_LOCK = `${ASTERISK_ROOT}.lock`;

/** The Debian mirror apt uses here (a machine without network reaches only that one). */
function debianMirror(): string {
  const files = ['/etc/apt/sources.list', ...listDir('/etc/apt/sources.list.d').map((name) => join('/etc/apt/sources.list.d', name))];
  for (const file of files) {
    const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
    const match = text.match(/^(?:URIs:\s*|deb\s+(?:\[[^\]]*\]\s+)?)(https?:\/\/\S+\/debian)\/?\s/m);
    if (match) return match[1]!;
  }
  return 'http://deb.debian.org/debian';
}

function listDir(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir) : [];
}

/** Builds the chroot unless it exists; parallel test files wait for the one building it. */
export async function ensureAsteriskChroot(): Promise<void> {
  const ready = () => existsSync(join(ASTERISK_ROOT, 'usr/sbin/asterisk'));
  if (!ready()) {
    let owner = false;
    // The lock's folder first: on a fresh machine only that one is missing, not a lock.
    mkdirSync(dirname(BUILD_LOCK), { recursive: true });
    try {
      mkdirSync(BUILD_LOCK, { recursive: false });
      owner = true;
    } catch {
      await waitFor(() => ready() || !existsSync(BUILD_LOCK), 15 * 60_000, 'another test file to build the Asterisk chroot');
    }
    if (owner) {
      try {
        if (!ready()) buildChroot();
      } finally {
        rmSync(BUILD_LOCK, { recursive: true, force: true });
      }
    }
    if (!ready()) throw new Error(`no Asterisk chroot at ${ASTERISK_ROOT}`);
  }
  prepareChroot();
}

function buildChroot(): void {
  const partial = `${ASTERISK_ROOT}.partial`;
  rmSync(partial, { recursive: true, force: true });
  mkdirSync(partial, { recursive: true });
  const result = spawnSync(
    'debootstrap',
    ['--variant=minbase', '--include=asterisk,asterisk-modules', 'sid', partial, debianMirror()],
    { stdio: ['ignore', 'pipe', 'pipe'], timeout: 15 * 60_000 },
  );
  if (result.status !== 0) {
    throw new Error(`debootstrap of the Asterisk chroot failed (is debootstrap installed? .ci/run installs it):\n${String(result.stderr).slice(-2000)}`);
  }
  renameSync(partial, ASTERISK_ROOT);
}

/** /proc mounted; the state folders owned by root, or astdb does not open. */
function prepareChroot(): void {
  const proc = join(ASTERISK_ROOT, 'proc');
  if (spawnSync('mountpoint', ['-q', proc]).status !== 0) {
    const mounted = spawnSync('mount', ['-t', 'proc', 'proc', proc]);
    if (mounted.status !== 0) throw new Error(`could not mount /proc in the Asterisk chroot: ${String(mounted.stderr)}`);
  }
  spawnSync('chroot', [ASTERISK_ROOT, 'chown', '-R', 'root:root', '/var/lib/asterisk', '/var/spool/asterisk', '/var/log/asterisk', '/etc/asterisk']);
}

export interface AsteriskOptions {
  /** queues.conf sections beyond [general]: name → settings. */
  queues?: Record<string, Record<string, string | number>>;
  /** manager.conf `timestampevents`. */
  timestampEvents?: boolean;
  /** Load cel_manager (CEL events over AMI, LINKEDID_END ends a call). */
  cel?: boolean;
}

const DEFAULT_QUEUE: Record<string, string | number> = {
  strategy: 'ringall',
  timeout: 4,
  retry: 1,
  wrapuptime: 0,
  joinempty: 'yes',
  leavewhenempty: 'no',
  ringinuse: 'no',
  'announce-frequency': 0,
  'periodic-announce-frequency': 0,
  servicelevel: 5,
};

/*
 * The dialplan: `queue-in,<queue>` answers (an IVR) and queues the caller; agents are Local
 * channels: 1XXX answer and talk 2 s, 2XXX answer and talk 30 s (long enough to transfer),
 * 9XXX never answer.
 */
const EXTENSIONS = `[general]
static = yes
writeprotect = no

[queue-in]
exten => _[a-z].,1,Answer()
 same => n,Queue(\${EXTEN},t,,,60)
 same => n,Hangup()

[agents]
exten => _1XXX,1,Answer()
 same => n,Wait(2)
 same => n,Hangup()
exten => _2XXX,1,Answer()
 same => n,Wait(30)
 same => n,Hangup()
exten => _9XXX,1,Wait(120)
 same => n,Hangup()
`;

/** A real Asterisk process in the chroot, with its AMI on 127.0.0.1:`amiPort`. */
export class RealAsterisk {
  private process: ChildProcess | undefined;
  private output = '';

  private constructor(
    readonly amiPort: number,
    /** The instance's folder inside the chroot, as Asterisk sees it. */
    private readonly home: string,
  ) {}

  static async start(options: AsteriskOptions = {}): Promise<RealAsterisk> {
    await ensureAsteriskChroot();
    const port = await freePort();
    const home = `/tmp/switchboard-${process.pid}-${port}`;
    const asterisk = new RealAsterisk(port, home);
    asterisk.writeConfig(options);
    await asterisk.launch();
    return asterisk;
  }

  /** The asterisk process's pid (chroot execs it), for CPU figures. */
  get pid(): number | undefined {
    return this.process?.pid;
  }

  /** What Asterisk printed (notices, warnings, errors), for failure messages. */
  log(): string {
    return this.output;
  }

  /** Stops Asterisk at once (kill -9) and starts it again on the same port: a PBX restarted mid-day. */
  async restart(): Promise<void> {
    await this.stop('SIGKILL');
    await this.launch();
  }

  async close(): Promise<void> {
    await this.stop('SIGKILL');
    rmSync(join(ASTERISK_ROOT, this.home), { recursive: true, force: true });
  }

  private async stop(signal: NodeJS.Signals): Promise<void> {
    const child = this.process;
    this.process = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = once(child, 'exit');
    child.kill(signal);
    await exited;
  }

  private writeConfig(options: AsteriskOptions): void {
    const dir = join(ASTERISK_ROOT, this.home);
    rmSync(dir, { recursive: true, force: true });
    for (const sub of ['etc', 'lib', 'spool', 'run', 'log']) mkdirSync(join(dir, sub), { recursive: true });
    const file = (name: string, text: string) => writeFileSync(join(dir, 'etc', name), text);
    file(
      'asterisk.conf',
      `[directories]
astetcdir => ${this.home}/etc
astmoddir => /usr/lib/x86_64-linux-gnu/asterisk/modules
astvarlibdir => ${this.home}/lib
astdbdir => ${this.home}/lib
astkeydir => ${this.home}/lib
astdatadir => /usr/share/asterisk
astagidir => /usr/share/asterisk/agi-bin
astspooldir => ${this.home}/spool
astrundir => ${this.home}/run
astlogdir => ${this.home}/log
[options]
runuser = root
rungroup = root
`,
    );
    file(
      'manager.conf',
      `[general]
enabled = yes
port = ${this.amiPort}
bindaddr = 127.0.0.1
timestampevents = ${options.timestampEvents === false ? 'no' : 'yes'}

[${AMI_USER}]
secret = ${AMI_SECRET}
read = all
write = all
`,
    );
    // Only what a queue test needs: no network channel drivers, no databases.
    file(
      'modules.conf',
      `[modules]
autoload = no
load = res_timing_timerfd.so
load = bridge_simple.so
load = bridge_native_rtp.so
load = bridge_softmix.so
load = bridge_holding.so
load = chan_bridge_media.so
load = func_callerid.so
load = func_channel.so
load = func_strings.so
load = pbx_config.so
load = app_dial.so
load = app_queue.so
load = app_stack.so
load = app_transfer.so
load = core_local.so
load = res_musiconhold.so
load = res_manager_devicestate.so
load = cdr_manager.so
${options.cel ? 'load = cel_manager.so\n' : ''}load = codec_ulaw.so
load = format_wav.so
load = format_gsm.so
`,
    );
    file('cdr.conf', '[general]\nenable = yes\nunanswered = yes\n');
    file('cdr_manager.conf', '[general]\nenabled = yes\n');
    file('cel.conf', options.cel ? '[general]\nenable = yes\napps = all\nevents = ALL\n\n[manager]\nenabled = yes\n' : '[general]\nenable = no\n');
    file('logger.conf', '[logfiles]\nconsole => notice,warning,error\n');
    file('extensions.conf', EXTENSIONS);
    file('musiconhold.conf', '[default]\nmode = files\ndirectory = moh\n');
    const queues = options.queues ?? { sales: {} };
    file(
      'queues.conf',
      `[general]\npersistentmembers = no\nshared_lastcall = no\n\n` +
        Object.entries(queues)
          .map(([name, settings]) => `[${name}]\n${Object.entries({ ...DEFAULT_QUEUE, ...settings }).map(([key, value]) => `${key} = ${value}`).join('\n')}\n`)
          .join('\n'),
    );
  }

  private async launch(): Promise<void> {
    this.output = '';
    const child = spawn('chroot', [ASTERISK_ROOT, 'asterisk', '-f', '-n', '-C', `${this.home}/etc/asterisk.conf`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.process = child;
    const collect = (chunk: Buffer) => {
      this.output = (this.output + chunk.toString()).slice(-64 * 1024);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const exited = once(child, 'exit').then(() => {
      throw new Error(`Asterisk exited at start:\n${this.output}`);
    });
    await Promise.race([waitFor(() => this.output.includes('Asterisk Ready.'), 60_000, 'Asterisk to be ready'), exited]);
    // The manager may lag the console's "ready" by a moment: log in once to be sure.
    const probe = await AmiDriver.connect(this.amiPort);
    await probe.close();
  }
}

/**
 * A test's own AMI session with the real Asterisk: sends actions (QueueAdd, Originate, …) and
 * records every event it hears, to wait on them.
 */
export class AmiDriver {
  readonly events: AmiMessage[] = [];
  private readonly pending = new Map<string, { events: AmiMessage[]; response?: AmiMessage; list: boolean; done: (value: { response: AmiMessage; events: AmiMessage[] }) => void }>();
  private counter = 0;

  private constructor(private readonly socket: Socket) {}

  static async connect(port: number): Promise<AmiDriver> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const socket = connect({ host: '127.0.0.1', port });
        await once(socket, 'connect');
        const driver = new AmiDriver(socket);
        const parser = new AmiParser(() => {});
        socket.on('data', (chunk: Buffer) => parser.push(chunk, (message) => driver.onMessage(message)));
        socket.on('error', () => {});
        const { response } = await driver.action({ Action: 'Login', Username: AMI_USER, Secret: AMI_SECRET, Events: 'on' });
        if (response.headers.Response !== 'Success') throw new Error(`AMI login refused: ${response.headers.Message}`);
        return driver;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await sleep(200);
      }
    }
  }

  /** Sends an action; resolves with its response and, for list actions, the events up to the list's end. */
  action(fields: Record<string, string>, list = false): Promise<{ response: AmiMessage; events: AmiMessage[] }> {
    const actionId = `test-${++this.counter}`;
    return new Promise((done) => {
      this.pending.set(actionId, { events: [], list, done });
      this.socket.write(formatAction({ ...fields, ActionID: actionId }));
    });
  }

  /**
   * A caller into `queue` (the dialplan's `queue-in` context) who stays `seconds` once answered;
   * resolves with the call's Linkedid once the caller joined the queue.
   */
  async originate(queue: string, number: string, seconds: number): Promise<string> {
    const { response } = await this.action({
      Action: 'Originate',
      Channel: `Local/${queue}@queue-in`,
      Application: 'Wait',
      Data: String(seconds),
      CallerID: `"Caller ${number}" <${number}>`,
      Async: 'true',
    });
    if (response.headers.Response !== 'Success') throw new Error(`Originate refused: ${response.headers.Message}`);
    const [joined] = await this.waitForEvents(
      (event) => event.headers.Event === 'QueueCallerJoin' && event.headers.Queue === queue && event.headers.CallerIDNum === number,
      1,
      30_000,
      `${number} joining ${queue}`,
    );
    return joined!.headers.Linkedid!;
  }

  /** Asterisk's own queue figures: QueueParams per queue, QueueMember and QueueEntry events. */
  async queueStatus(queue?: string): Promise<AmiMessage[]> {
    const { events } = await this.action({ Action: 'QueueStatus', ...(queue ? { Queue: queue } : {}) }, true);
    return events;
  }

  async queueParams(queue: string): Promise<Record<string, string>> {
    const params = (await this.queueStatus(queue)).find((event) => event.headers.Event === 'QueueParams');
    if (!params) throw new Error(`QueueStatus gave no QueueParams for ${queue}`);
    return params.headers;
  }

  /** Waits until `count` events heard since the session began match. */
  async waitForEvents(match: (event: AmiMessage) => boolean, count = 1, timeoutMs = 30_000, what = 'AMI events'): Promise<AmiMessage[]> {
    await waitFor(() => this.events.filter(match).length >= count, timeoutMs, `${count} × ${what}`);
    return this.events.filter(match);
  }

  async close(): Promise<void> {
    this.socket.end();
    this.socket.destroy();
  }

  private onMessage(message: AmiMessage): void {
    const actionId = message.headers.ActionID;
    const pending = actionId === undefined ? undefined : this.pending.get(actionId);
    if (pending && message.headers.Response !== undefined) {
      pending.response = message;
      if (!pending.list || message.headers.Response !== 'Success') this.finish(actionId!, pending);
      return;
    }
    if (pending && message.headers.Event !== undefined) {
      pending.events.push(message);
      if (message.headers.EventList === 'Complete' || message.headers.Event.endsWith('Complete')) this.finish(actionId!, pending);
      return;
    }
    if (message.headers.Event !== undefined) this.events.push(message);
  }

  private finish(actionId: string, pending: { events: AmiMessage[]; response?: AmiMessage; done: (value: { response: AmiMessage; events: AmiMessage[] }) => void }): void {
    this.pending.delete(actionId);
    pending.done({ response: pending.response ?? { headers: {}, variables: {}, output: [] }, events: pending.events });
  }
}
