import { createHash } from 'node:crypto';
import { startLoopbackPeer } from './loopback-peer.js';

/**
 * A loopback peer that speaks the Asterisk Manager Interface byte for byte: the banner line with
 * no blank line after it, CRLF lines, `Response: Success|Error` echoing ActionID, the MD5
 * Challenge, `Event: FullyBooted` after login, and QueueStatus as an event list (QueueParams,
 * QueueMember, QueueEntry, QueueStatusComplete) into which other events interleave. Modelled on
 * recordings of Asterisk 13–18 sessions; the fixtures are our own.
 */
export interface FakeAsterisk {
  port: number;
  banner: string;
  username: string;
  secret: string;
  /** Every action received, as header objects, in order. */
  actions: Record<string, string>[];
  connections: number;
  /** The QueueStatus answer: events without ActionID (added by the peer). */
  queueStatus: Record<string, string>[];
  /** Events written between QueueStatus list items, as Asterisk does when something happens meanwhile. */
  interleave: Record<string, string>[];
  waitForLogin(count?: number): Promise<void>;
  send(fields: Record<string, string>, variables?: Record<string, string>): void;
  raw(text: string): void;
  drop(): void;
  close(): Promise<void>;
}

export function amiMessage(fields: Record<string, string>, variables: Record<string, string> = {}): string {
  let text = '';
  for (const [key, value] of Object.entries(fields)) text += `${key}: ${value}\r\n`;
  for (const [key, value] of Object.entries(variables)) text += `ChanVariable: ${key}=${value}\r\n`;
  return `${text}\r\n`;
}

export async function startFakeAsterisk(options: { banner?: string; username?: string; secret?: string } = {}): Promise<FakeAsterisk> {
  const fake: FakeAsterisk = {
    port: 0,
    banner: options.banner ?? 'Asterisk Call Manager/5.0.2',
    username: options.username ?? 'switchboard',
    secret: options.secret ?? 's3cret-pass',
    actions: [],
    get connections() {
      return peer.connections;
    },
    queueStatus: [],
    interleave: [],
    waitForLogin: (count = 1) => peer.waitForReady(count, 'no AMI login'),
    send: (fields, variables) => peer.broadcast(amiMessage(fields, variables)),
    raw: (text) => peer.raw(text),
    drop: () => peer.drop(),
    close: () => peer.close(),
  };

  const peer = await startLoopbackPeer((socket) => {
    socket.write(`${fake.banner}\r\n`);
    let challenge: string | undefined;
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      for (let end = text.indexOf('\r\n\r\n'); end >= 0; end = text.indexOf('\r\n\r\n')) {
        const action: Record<string, string> = {};
        for (const line of text.slice(0, end).split('\r\n')) {
          const colon = line.indexOf(': ');
          if (colon > 0) action[line.slice(0, colon)] = line.slice(colon + 2);
        }
        text = text.slice(end + 4);
        fake.actions.push(action);
        const id = action.ActionID ?? '';
        const reply = (fields: Record<string, string>) => socket.write(amiMessage({ ...fields }));
        switch (action.Action) {
          case 'Challenge':
            challenge = String(100_000_000 + Math.floor(Math.random() * 900_000_000));
            reply({ Response: 'Success', ActionID: id, Challenge: challenge });
            break;
          case 'Login': {
            const expectedKey = challenge ? createHash('md5').update(challenge + fake.secret).digest('hex') : undefined;
            const ok = action.Username === fake.username && (action.AuthType === 'MD5' ? action.Key === expectedKey : action.Secret === fake.secret);
            if (!ok) {
              reply({ Response: 'Error', ActionID: id, Message: 'Authentication failed' });
              socket.end();
              break;
            }
            reply({ Response: 'Success', ActionID: id, Message: 'Authentication accepted' });
            socket.write(amiMessage({ Event: 'FullyBooted', Privilege: 'system,all', Uptime: '3605', LastReload: '3605', Status: 'Fully Booted' }));
            peer.markReady(socket);
            break;
          }
          case 'QueueStatus': {
            reply({ Response: 'Success', ActionID: id, EventList: 'start', Message: 'Queue status will follow' });
            const interleave = [...fake.interleave];
            for (const item of fake.queueStatus) {
              socket.write(amiMessage({ ...item, ActionID: id }));
              const other = interleave.shift();
              if (other) socket.write(amiMessage(other));
            }
            socket.write(amiMessage({ Event: 'QueueStatusComplete', ActionID: id, EventList: 'Complete', ListItems: String(fake.queueStatus.length) }));
            break;
          }
          case 'Logoff':
            reply({ Response: 'Goodbye', ActionID: id, Message: 'Thanks for all the fish.' });
            socket.end();
            break;
          default:
            reply({ Response: 'Error', ActionID: id, Message: 'Invalid/unknown command' });
        }
      }
    });
  });
  fake.port = peer.port;
  return fake;
}
