import type { Socket } from 'node:net';
import { startLoopbackPeer } from './loopback-peer.js';

/**
 * A loopback peer that speaks FreeSWITCH's inbound Event Socket (mod_event_socket) byte for byte:
 * `auth/request` on connect, `command/reply` with `+OK accepted` / `-ERR invalid`, the
 * disconnect notice, `api/response` bodies, and events as `text/event-json` or
 * `text/event-plain` (URL-encoded values), with Content-Length in bytes. The frames are modelled
 * on recordings of real FreeSWITCH 1.10 sessions; the fixtures are our own.
 */
export interface FakeFreeswitch {
  port: number;
  /** Every command line received, in order, across connections (auth passwords included). */
  commands: string[];
  connections: number;
  /** Answers to `api …` commands; the default serves the mod_callcenter lists of `agents`. */
  api: (command: string) => string;
  agents: { name: string; status: string; lastStatusChange: number }[];
  members: { queue: string; uuid: string; sessionUuid: string; state: string; joinedEpoch?: number }[];
  coreUuid: string;
  password: string;
  /** The format the client subscribed with on the current connection. */
  format: 'json' | 'plain' | undefined;
  /** Resolves once a client has authenticated and subscribed. */
  waitForSubscriber(count?: number): Promise<void>;
  /** Sends an event to every subscribed client. */
  send(headers: Record<string, string>): void;
  /** Writes raw bytes to every connected client. */
  raw(bytes: string | Buffer): void;
  /** Drops every connection without a word (a network failure). */
  drop(): void;
  close(): Promise<void>;
}

const DISCONNECT_BODY = 'Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n';

export async function startFakeFreeswitch(options: { password?: string; coreUuid?: string } = {}): Promise<FakeFreeswitch> {
  const fake: FakeFreeswitch = {
    port: 0,
    commands: [],
    get connections() {
      return peer.connections;
    },
    agents: [],
    members: [],
    coreUuid: options.coreUuid ?? '6e4a6b0e-9d6a-4b8a-8f1a-2d7b6a9c0f11',
    password: options.password ?? 'ClueCon',
    format: undefined,
    api: (command) => defaultApi(fake, command),
    waitForSubscriber: (count = 1) => peer.waitForReady(count, 'no ESL subscriber'),
    send: (headers) => peer.broadcast(eventFrame(headers, fake.format ?? 'json')),
    raw: (bytes) => peer.raw(bytes),
    drop: () => peer.drop(),
    close: () => peer.close(),
  };

  const peer = await startLoopbackPeer((socket) => {
    socket.write('Content-Type: auth/request\n\n');
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const command = text.slice(0, end).trim();
        text = text.slice(end + 2);
        fake.commands.push(command);
        answer(socket, command);
      }
    });
  });

  function answer(socket: Socket, command: string) {
    if (command.startsWith('auth ')) {
      if (command.slice(5) === fake.password) {
        socket.write('Content-Type: command/reply\nReply-Text: +OK accepted\n\n');
      } else {
        socket.write('Content-Type: command/reply\nReply-Text: -ERR invalid\n\n');
        socket.end(`Content-Type: text/disconnect-notice\nContent-Length: ${Buffer.byteLength(DISCONNECT_BODY)}\n\n${DISCONNECT_BODY}`);
      }
      return;
    }
    const subscribe = command.match(/^event (json|plain) (.+)$/);
    if (subscribe) {
      fake.format = subscribe[1] as 'json' | 'plain';
      socket.write(`Content-Type: command/reply\nReply-Text: +OK event listener enabled ${fake.format}\n\n`);
      peer.markReady(socket);
      return;
    }
    if (command.startsWith('api ')) {
      const body = fake.api(command.slice(4));
      socket.write(`Content-Type: api/response\nContent-Length: ${Buffer.byteLength(body)}\n\n${body}`);
      return;
    }
    socket.write('Content-Type: command/reply\nReply-Text: -ERR command not found\n\n');
  }

  fake.port = peer.port;
  return fake;
}

function defaultApi(fake: FakeFreeswitch, command: string): string {
  if (command === 'global_getvar core_uuid') return fake.coreUuid;
  if (command === 'callcenter_config agent list') {
    const header = 'name|instance_id|uuid|type|contact|status|state|max_no_answer|wrap_up_time|reject_delay_time|busy_delay_time|no_answer_delay_time|last_bridge_start|last_bridge_end|last_offered_call|last_status_change|no_answer_count|calls_answered|talk_time|ready_time|external_calls_count';
    const rows = fake.agents.map((agent) => `${agent.name}|single_box||callback|[leg_timeout=10]user/${agent.name}|${agent.status}|Waiting|3|10|10|60|0|0|0|0|${agent.lastStatusChange}|0|0|0|0|0`);
    return `${[header, ...rows].join('\n')}\n+OK\n`;
  }
  if (command === 'callcenter_config queue list') {
    const queues = [...new Set(fake.members.map((member) => member.queue))];
    const rows = queues.map((queue) => `${queue}|longest-idle-agent|local_stream://moh|system|0|0|true|false|0|0|0|0|0|0|0`);
    return `${['name|strategy|moh_sound|time_base_score|tier_rules_apply|tier_rule_wait_second|tier_rule_no_agent_no_wait|discard_abandoned_after|abandoned_resume_allowed|max_wait_time|max_wait_time_with_no_agent|max_wait_time_with_no_agent_time_reached|record_template|calls_answered|calls_abandoned', ...rows].join('\n')}\n+OK\n`;
  }
  const members = command.match(/^callcenter_config queue list members (\S+)$/);
  if (members) {
    const header = 'queue|instance_id|uuid|session_uuid|cid_number|cid_name|system_epoch|joined_epoch|rejoined_epoch|bridge_epoch|abandoned_epoch|base_score|skill_score|serving_agent|serving_system|state';
    const rows = fake.members
      .filter((member) => member.queue === members[1])
      .map((member) => `${member.queue}|single_box|${member.uuid}|${member.sessionUuid}|34650110022|Outbound Call|1764669600|${member.joinedEpoch ?? 1764669600}|0|0|0|0|0|||${member.state}`);
    return `${[header, ...rows].join('\n')}\n+OK\n`;
  }
  return '-ERR Command not found!\n';
}

/** An event frame as mod_event_socket writes it (Content-Length counts bytes). */
export function eventFrame(headers: Record<string, string>, format: 'json' | 'plain'): string {
  if (format === 'json') {
    const body = JSON.stringify(headers);
    return `Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-json\n\n${body}`;
  }
  const body = `${Object.entries(headers).map(([key, value]) => `${key}: ${urlEncode(value)}`).join('\n')}\n\n`;
  return `Content-Length: ${Buffer.byteLength(body)}\nContent-Type: text/event-plain\n\n${body}`;
}

/** switch_url_encode: everything but unreserved characters, as %XX of the UTF-8 bytes. */
function urlEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Common headers of every FreeSWITCH event (switch_event_prep_for_delivery). */
export function eventHeaders(core: string, sequence: number, name: string, at = new Date('2026-11-21T10:00:00Z')): Record<string, string> {
  const micros = String(at.getTime() * 1000);
  return {
    'Event-Name': name,
    'Core-UUID': core,
    'FreeSWITCH-Hostname': 'pbx1.example',
    'FreeSWITCH-Switchname': 'pbx1.example',
    'FreeSWITCH-IPv4': '10.0.0.5',
    'FreeSWITCH-IPv6': '::1',
    'Event-Date-Local': at.toISOString().replace('T', ' ').slice(0, 19),
    'Event-Date-GMT': at.toUTCString(),
    'Event-Date-Timestamp': micros,
    'Event-Calling-File': name === 'CUSTOM' ? 'mod_callcenter.c' : 'switch_core_state_machine.c',
    'Event-Calling-Function': name === 'CUSTOM' ? 'cc_agent_update' : 'switch_core_session_reporting_state',
    'Event-Calling-Line-Number': '1045',
    'Event-Sequence': String(sequence),
  };
}

/** A mod_callcenter event (Event-Subclass callcenter::info). */
export function callcenterEvent(core: string, sequence: number, fields: Record<string, string>, at?: Date): Record<string, string> {
  return { ...eventHeaders(core, sequence, 'CUSTOM', at), 'Event-Subclass': 'callcenter::info', ...fields };
}

/** Channel data (switch_channel_event_set_data) of a dialler's outbound customer leg. */
export function customerChannel(uuid: string, variables: Record<string, string>): Record<string, string> {
  const channel: Record<string, string> = {
    'Channel-State': 'CS_EXECUTE',
    'Channel-Call-State': 'ACTIVE',
    'Channel-Name': 'sofia/gateway/carrier/34650844400',
    'Unique-ID': uuid,
    'Call-Direction': 'outbound',
    'Answer-State': 'answered',
    'Caller-Direction': 'outbound',
    'Caller-Caller-ID-Name': 'Outbound Call',
    'Caller-Caller-ID-Number': '34650110022',
    'Caller-Destination-Number': '34650844400',
    'Caller-Unique-ID': uuid,
    'Caller-Context': 'default',
    variable_direction: 'outbound',
    variable_uuid: uuid,
  };
  for (const [name, value] of Object.entries(variables)) channel[`variable_${name}`] = value;
  return channel;
}
