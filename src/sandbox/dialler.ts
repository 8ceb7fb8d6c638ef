import { AUDIT_ACTIONS, type AgentStatus, type CdrDisposition } from '../events/catalogue.js';

/** An event as a dialler submits it to POST /v1/events. */
export interface SandboxEvent {
  type: string;
  source: string;
  data: Record<string, unknown>;
}

/** The domain of the sandbox's subscriber and audit records when none is given. */
export const SANDBOX_DOMAIN = 'sandbox.example';

/** One text message of an exchange, as `message.*` events and a session's `last_message` hold it. */
export interface TextMessage {
  message_id: string;
  from: string;
  to: string;
  body: string;
  media_count: number;
}

/**
 * A text exchange's four events, in order: the customer's message, the session unread, the
 * agent's reply, the session read. `session` is what every one of them carries.
 */
export function textExchange(
  session: { session_id: string; channel: string; user: string },
  inbound: TextMessage,
  outbound: TextMessage,
  receivedAt: string,
  repliedAt: string,
): { type: string; data: Record<string, unknown> }[] {
  return [
    { type: 'message.received', data: { ...session, ...inbound } },
    { type: 'messagesession.updated', data: { ...session, last_message: { ...inbound, direction: 'received', sent_at: receivedAt }, read_status: 'unread', unread_count: 1 } },
    { type: 'message.sent', data: { ...session, ...outbound } },
    { type: 'messagesession.updated', data: { ...session, last_message: { ...outbound, direction: 'sent', sent_at: repliedAt }, read_status: 'read', unread_count: 0 } },
  ];
}

/** An `audit.logged` event's data: an administrator's change in `domain`. */
export function auditEntry(domain: string, action: string, objectType: string, objectId: string, origin: string): Record<string, unknown> {
  return { actor: `admin@${domain}`, action, object_type: objectType, object_id: objectId, target_domain: domain, origin };
}

export interface SandboxOptions {
  agents: number;
  campaigns: number;
  /** Seed of the pseudo-random sequence: the same seed gives the same traffic. */
  seed?: number;
  source?: string;
  /** The tenant domain of the office traffic (subscriber and audit records). */
  domain?: string;
  now?: () => Date;
}

interface Callee {
  contactRef: string;
  numbers: string[];
}

interface Campaign {
  name: string;
  callees: Callee[];
}

/** A call answered by the callee and queued for its agent, then talking. */
interface ActiveCall {
  callId: string;
  campaign: string;
  queue: string;
  number: string;
  contactRef: string;
  dialedAt: Date;
  connectedAt?: Date;
}

interface Agent {
  extension: string;
  status: AgentStatus;
  call?: ActiveCall;
  /** Set once the agent was first created (audited) at its first login. */
  created?: boolean;
}

/** Outcomes of a number that did not reach a person, with their Q.850 cause and SIP code. */
/** Objects an administrator changes beside the agents; auditlog_lite keeps only some (src/webhooks/models.ts). */
const AUDITED_OBJECTS = ['user', 'callqueue', 'phonenumber', 'conference', 'dialplan', 'timeframe'] as const;

/** Chance that an idle agent's step is office traffic (a text, a voicemail, a record change) instead of a dial. */
const OFFICE_SHARE = 0.1;

const UNANSWERED: readonly { disposition: CdrDisposition; q850: number; sip: number; weight: number }[] = [
  { disposition: 'no_answer', q850: 19, sip: 480, weight: 40 },
  { disposition: 'busy', q850: 17, sip: 486, weight: 20 },
  { disposition: 'rejected', q850: 21, sip: 603, weight: 8 },
  { disposition: 'failed', q850: 41, sip: 503, weight: 5 },
  { disposition: 'error', q850: 1, sip: 404, weight: 7 },
  { disposition: 'cancelled', q850: 487, sip: 487, weight: 5 },
];

/**
 * A sandbox predictive dialler: agents log in and cycle through statuses, campaigns start with dial
 * previews, each callee's numbers are tried in order with one CDR per number tried (the rest are
 * skipped once one connects). An answered call is queued (call.queued); on a later step the callee
 * either hangs up in queue (call.abandoned, CDR with agent null) or is offered to and connected
 * with the agent (call.offered, call.connected); the call ends some steps later (call.ended, CDR,
 * wrap-up). Calls thus span time, as on a real floor. Beside the calls, agents text (SMS and chat,
 * with their sessions), receive voicemail, have their user record changed, and an administrator's
 * changes are audited: the traffic of the other NetSapiens models
 * (docs/contracts/netsapiens-subscriptions.md). Deterministic for a given seed.
 */
export class SandboxDialler {
  private readonly agents: Agent[];
  private readonly campaigns: Campaign[];
  private readonly random: () => number;
  private readonly source: string;
  private readonly domain: string;
  private readonly now: () => Date;
  private callSequence = 0;
  private contactSequence = 0;
  private officeSequence = 0;
  private started = false;

  constructor(options: SandboxOptions) {
    this.random = mulberry32(options.seed ?? 1);
    this.source = options.source ?? 'sandbox-dialler';
    this.domain = options.domain ?? SANDBOX_DOMAIN;
    this.now = options.now ?? (() => new Date());
    this.agents = Array.from({ length: options.agents }, (_, i) => ({ extension: String(1001 + i), status: 'offline' as AgentStatus }));
    this.campaigns = Array.from({ length: options.campaigns }, (_, i) => ({ name: `campaign-${i + 1}`, callees: [] }));
  }

  /** The next few events of the simulation (one step of one agent or campaign). */
  next(): SandboxEvent[] {
    if (!this.started) {
      this.started = true;
      return this.campaigns.flatMap((campaign) => [
        this.event('campaign.status_changed', { campaign: campaign.name, status: 'started' }),
        this.preview(campaign),
      ]);
    }
    const agent = this.pick(this.agents);
    if (agent.call) return this.progress(agent, agent.call);
    switch (agent.status) {
      case 'offline':
        return [...this.createOnce(agent), this.setStatus(agent, 'logging_in'), this.setStatus(agent, 'available', this.pick(this.campaigns).name)];
      case 'available': {
        const roll = this.random();
        if (roll < 0.08) return [this.setStatus(agent, this.random() < 0.5 ? 'on_break' : 'not_ready')];
        return roll < 0.08 + OFFICE_SHARE ? this.office(agent) : this.dial(agent);
      }
      case 'wrapup':
        return [this.setStatus(agent, 'available')];
      default:
        return [this.setStatus(agent, 'available')];
    }
  }

  /** Campaigns stop and agents log out, as at the end of a shift. */
  finish(): SandboxEvent[] {
    const calls = this.agents.flatMap((agent) => {
      const events: SandboxEvent[] = [];
      while (agent.call) events.push(...this.progress(agent, agent.call));
      return events;
    });
    return [
      ...calls,
      ...this.campaigns.flatMap((campaign) => [
        this.event('campaign.status_changed', { campaign: campaign.name, status: 'stopping' }),
        this.event('campaign.status_changed', { campaign: campaign.name, status: 'completed' }),
      ]),
      ...this.agents
        .filter((agent) => agent.status !== 'offline')
        .flatMap((agent) => [this.setStatus(agent, 'logging_out'), this.setStatus(agent, 'offline')]),
    ];
  }

  private dial(agent: Agent): SandboxEvent[] {
    const campaign = this.pick(this.campaigns);
    const events: SandboxEvent[] = [];
    if (campaign.callees.length === 0) events.push(this.preview(campaign));
    const callee = campaign.callees.shift() as Callee;

    for (const number of callee.numbers) {
      const callId = `call-${++this.callSequence}`;
      const dialedAt = this.now();
      const base = { call_id: callId, number, direction: 'outbound', dialed_at: dialedAt.toISOString(), campaign: campaign.name, contact_ref: callee.contactRef, dial_number: '+27210000000' };
      if (this.random() < 0.55) {
        const outcome = this.weighted(UNANSWERED);
        events.push(this.event('cdr.created', { ...base, disposition: outcome.disposition, agent: null, q850_cause: outcome.q850, sip_code: outcome.sip, duration_s: this.int(0, 30) }));
        continue;
      }
      // The number answered: the remaining numbers of this callee are not dialled.
      if (this.random() < 0.08) {
        events.push(this.event('cdr.created', { ...base, disposition: 'machine', agent: null, q850_cause: 16, sip_code: 200, duration_s: this.int(5, 25) }));
      } else {
        agent.call = { callId, campaign: campaign.name, queue: `${campaign.name}-queue`, number, contactRef: callee.contactRef, dialedAt };
        events.push(this.event('call.queued', this.queueData(agent.call)));
      }
      break;
    }
    return events;
  }

  /** The next step of an agent's call: out of the queue (abandoned or connected), or ended. */
  private progress(agent: Agent, call: ActiveCall): SandboxEvent[] {
    const base = {
      call_id: call.callId,
      number: call.number,
      direction: 'outbound',
      dialed_at: call.dialedAt.toISOString(),
      campaign: call.campaign,
      contact_ref: call.contactRef,
      dial_number: '+27210000000',
    };
    if (!call.connectedAt) {
      if (this.random() < 0.12) {
        agent.call = undefined;
        const waited = this.elapsedSeconds(call.dialedAt);
        return [
          this.event('call.abandoned', { ...this.queueData(call), reason: 'caller_hungup', wait_s: waited }),
          this.event('cdr.created', { ...base, disposition: 'abandoned', agent: null, q850_cause: 16, sip_code: 200, duration_s: waited }),
        ];
      }
      call.connectedAt = this.now();
      const offer = { call_id: call.callId, agent: agent.extension, campaign: call.campaign, number: call.number, contact_ref: call.contactRef, queue: call.queue, caller_id: '+27210000000' };
      return [this.event('call.offered', offer), this.event('call.connected', offer), this.setStatus(agent, 'busy', call.campaign)];
    }
    // A call lasts a few of its agent's steps.
    if (this.random() < 0.6) return [];
    agent.call = undefined;
    const talk = this.elapsedSeconds(call.connectedAt);
    const endedBy = this.random() < 0.6 ? 'caller' : 'agent';
    const hold = this.random() < 0.2 ? Math.min(talk, this.int(1, 30)) : 0;
    return [
      this.event('call.ended', { ...this.queueData(call), agent: agent.extension, talk_s: talk, hold_s: hold, ended_by: endedBy, cause: 'NORMAL_CLEARING' }),
      this.event('cdr.created', {
        ...base,
        disposition: endedBy === 'caller' ? 'callee_hungup' : 'agent_hungup',
        agent: agent.extension,
        answered_at: call.dialedAt.toISOString(),
        ended_at: this.now().toISOString(),
        duration_s: this.elapsedSeconds(call.dialedAt),
        talk_s: talk,
        hold_s: hold,
        q850_cause: 16,
        sip_code: 200,
        recording_url: `https://recordings.example/${call.callId}.wav`,
      }),
      this.setStatus(agent, 'wrapup', call.campaign),
    ];
  }

  /** The agent's first login follows its creation by an administrator (audited once). */
  private createOnce(agent: Agent): SandboxEvent[] {
    if (agent.created) return [];
    agent.created = true;
    return [this.audit('create', 'agent', `${agent.extension}@${this.domain}`, 'api')];
  }

  /** One piece of office traffic for an idle agent. */
  private office(agent: Agent): SandboxEvent[] {
    const roll = this.random();
    if (roll < 0.4) return this.textExchange(agent);
    if (roll < 0.65) return [this.voicemail(agent)];
    if (roll < 0.8) return [this.event('subscriber.updated', { user: agent.extension, domain: this.domain, changed: { email: `agent${agent.extension}-${++this.officeSequence}@${this.domain}` } })];
    const objectType = this.pick(AUDITED_OBJECTS);
    return [this.audit(this.pick(AUDIT_ACTIONS), objectType, `${objectType}-${++this.officeSequence}`, this.random() < 0.7 ? 'api' : 'ui')];
  }

  /** A customer texts the agent, the session shows it unread, the agent answers and the session is read. */
  private textExchange(agent: Agent): SandboxEvent[] {
    const session = `session-${++this.officeSequence}`;
    const channel = this.random() < 0.7 ? 'sms' : 'chat';
    const customer = channel === 'sms' ? `+2721${String(this.int(1_000_000, 9_999_999))}` : `customer-${this.officeSequence}`;
    const inbound = { message_id: `msg-${this.officeSequence}-1`, from: customer, to: agent.extension, body: 'Can you call me back?', media_count: 0 };
    const outbound = { message_id: `msg-${this.officeSequence}-2`, from: agent.extension, to: customer, body: 'Calling you in five minutes.', media_count: 0 };
    const sentAt = this.now().toISOString();
    return textExchange({ session_id: session, channel, user: agent.extension }, inbound, outbound, sentAt, sentAt).map(({ type, data }) => this.event(type, data));
  }

  private voicemail(agent: Agent): SandboxEvent {
    const transcribed = this.random() < 0.7;
    return this.event('voicemail.created', {
      voicemail_id: `vm-${++this.officeSequence}`,
      user: agent.extension,
      caller_number: `+2721${String(this.int(1_000_000, 9_999_999))}`,
      ...(this.random() < 0.5 ? { caller_name: 'Sandbox Caller' } : {}),
      duration_s: this.int(3, 90),
      folder: this.random() < 0.1 ? 'urgent' : 'new',
      ...(transcribed ? { transcription: 'Hi, please call me back about my order.' } : {}),
    });
  }

  private audit(action: string, objectType: string, objectId: string, origin: string): SandboxEvent {
    return this.event('audit.logged', auditEntry(this.domain, action, objectType, objectId, origin));
  }

  private queueData(call: ActiveCall): Record<string, unknown> {
    return { call_id: call.callId, queue: call.queue, campaign: call.campaign, number: call.number, contact_ref: call.contactRef, caller_id: '+27210000000' };
  }

  private elapsedSeconds(since: Date): number {
    return Math.max(0, Math.round((this.now().getTime() - since.getTime()) / 100) / 10);
  }

  private preview(campaign: Campaign): SandboxEvent {
    const callees = Array.from({ length: Math.max(2, this.agents.length * 2) }, () => {
      const contactRef = `contact-${++this.contactSequence}`;
      const numbers = Array.from({ length: this.int(1, 3) }, () => `+2721${String(this.int(1_000_000, 9_999_999))}`);
      return { contactRef, numbers };
    });
    campaign.callees.push(...callees);
    return this.event('campaign.dial_preview', {
      campaign: campaign.name,
      callees: callees.map((callee) => ({ number: callee.numbers[0], contact_ref: callee.contactRef })),
    });
  }

  private setStatus(agent: Agent, status: AgentStatus, campaign?: string): SandboxEvent {
    agent.status = status;
    return this.event('agent.status_changed', { agent: agent.extension, status, ...(campaign ? { campaign } : {}) });
  }

  private event(type: string, data: Record<string, unknown>): SandboxEvent {
    return { type, source: this.source, data };
  }

  private pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.random() * items.length)] as T;
  }

  private int(min: number, max: number): number {
    return min + Math.floor(this.random() * (max - min + 1));
  }

  private weighted<T extends { weight: number }>(items: readonly T[]): T {
    let roll = this.random() * items.reduce((sum, item) => sum + item.weight, 0);
    for (const item of items) {
      roll -= item.weight;
      if (roll < 0) return item;
    }
    return items[items.length - 1] as T;
  }
}

/** Small, fast, seedable PRNG (public domain); Math.random cannot be seeded. */
function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
