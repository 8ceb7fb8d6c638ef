import { randomBytes } from 'node:crypto';
import { auditEntry, SANDBOX_DOMAIN, textExchange, type SandboxEvent } from './dialler.js';

export interface ScenarioOptions {
  agent: string;
  queue: string;
  campaign: string;
  /** The tenant domain: set as every event's `scope.domain` when given; names the audited and updated records' domain. */
  domain?: string | undefined;
  /** The scenario's last event happens now; earlier ones are spread before it, as on a real call. */
  now?: Date;
}

export interface ScenarioEvent extends SandboxEvent {
  id: string;
  time: string;
  scope?: { domain: string };
}

type Step = { offsetS: number; type: string; data: Record<string, unknown> };

/**
 * Named sandbox sequences for `switchboard trigger`: each is what a PBX or dialler sends for one
 * situation, with times spread as they would be (so waits and talk times add up on the board).
 */
export const SCENARIOS = {
  'queued-call': {
    description: 'a caller queues, is offered to and answered by an agent, talks, hangs up; CDR',
    steps: (o: ScenarioOptions, call: string): Step[] => [
      { offsetS: -95, type: 'call.queued', data: { call_id: call, queue: o.queue, campaign: o.campaign, caller_id: '+27215550101', position: 1 } },
      { offsetS: -80, type: 'call.offered', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, caller_id: '+27215550101' } },
      { offsetS: -78, type: 'call.connected', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, caller_id: '+27215550101' } },
      { offsetS: -78, type: 'agent.status_changed', data: { agent: o.agent, status: 'busy', campaign: o.campaign } },
      { offsetS: 0, type: 'call.ended', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, talk_s: 78, wait_s: 17, ended_by: 'caller' } },
      { offsetS: 0, type: 'agent.status_changed', data: { agent: o.agent, status: 'wrapup', campaign: o.campaign } },
      { offsetS: 0, type: 'cdr.created', data: cdr(o, call, -95, 'callee_hungup', { agent: o.agent, talk_s: 78, duration_s: 95 }) },
    ],
  },
  'abandoned-call': {
    description: 'a caller queues and hangs up before an agent answers; CDR with agent null',
    steps: (o: ScenarioOptions, call: string): Step[] => [
      { offsetS: -42, type: 'call.queued', data: { call_id: call, queue: o.queue, campaign: o.campaign, caller_id: '+27215550102', position: 1 } },
      { offsetS: 0, type: 'call.abandoned', data: { call_id: call, queue: o.queue, campaign: o.campaign, reason: 'caller_hungup', wait_s: 42 } },
      { offsetS: 0, type: 'cdr.created', data: cdr(o, call, -42, 'abandoned', { agent: null, duration_s: 42 }) },
    ],
  },
  'missed-call': {
    description: 'a caller queues, the agent lets it ring (missed), takes it when offered again, holds once, hangs up; wrap-up, CDR',
    steps: (o: ScenarioOptions, call: string): Step[] => [
      { offsetS: -70, type: 'call.queued', data: { call_id: call, queue: o.queue, campaign: o.campaign, caller_id: '+27215550103', position: 1 } },
      { offsetS: -65, type: 'call.offered', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign } },
      { offsetS: -50, type: 'call.missed', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, ring_s: 15, reason_raw: 'no_answer' } },
      { offsetS: -45, type: 'call.offered', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign } },
      { offsetS: -42, type: 'call.connected', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, wait_s: 28 } },
      { offsetS: -30, type: 'call.held', data: { call_id: call, agent: o.agent, queue: o.queue } },
      { offsetS: -20, type: 'call.resumed', data: { call_id: call, agent: o.agent, queue: o.queue } },
      { offsetS: 0, type: 'call.ended', data: { call_id: call, agent: o.agent, queue: o.queue, campaign: o.campaign, talk_s: 42, hold_s: 10, wait_s: 28, ended_by: 'agent' } },
      { offsetS: 0, type: 'agent.status_changed', data: { agent: o.agent, status: 'wrapup', campaign: o.campaign } },
      { offsetS: 0, type: 'cdr.created', data: cdr(o, call, -70, 'agent_hungup', { agent: o.agent, talk_s: 42, hold_s: 10, duration_s: 70 }) },
    ],
  },
  'agent-break': {
    description: 'an agent goes on break and comes back',
    steps: (o: ScenarioOptions): Step[] => [
      { offsetS: -300, type: 'agent.status_changed', data: { agent: o.agent, status: 'on_break', reason: 'lunch', campaign: o.campaign } },
      { offsetS: 0, type: 'agent.status_changed', data: { agent: o.agent, status: 'available', campaign: o.campaign } },
    ],
  },
  'campaign-run': {
    description: 'a campaign starts with a dial preview, an agent logs in, the campaign stops and completes',
    steps: (o: ScenarioOptions): Step[] => [
      { offsetS: -60, type: 'campaign.status_changed', data: { campaign: o.campaign, status: 'started' } },
      { offsetS: -59, type: 'campaign.dial_preview', data: { campaign: o.campaign, callees: [{ number: '+27215550201', contact_ref: 'contact-1' }, { number: '+27215550202', contact_ref: 'contact-2' }] } },
      { offsetS: -58, type: 'agent.status_changed', data: { agent: o.agent, status: 'logging_in', campaign: o.campaign } },
      { offsetS: -57, type: 'agent.status_changed', data: { agent: o.agent, status: 'available', campaign: o.campaign } },
      { offsetS: -1, type: 'campaign.status_changed', data: { campaign: o.campaign, status: 'stopping' } },
      { offsetS: 0, type: 'campaign.status_changed', data: { campaign: o.campaign, status: 'completed' } },
    ],
  },
  cdr: {
    description: 'one answered outbound call record',
    steps: (o: ScenarioOptions, call: string): Step[] => [{ offsetS: 0, type: 'cdr.created', data: cdr(o, call, -125, 'callee_hungup', { agent: o.agent, talk_s: 118, duration_s: 125 }) }],
  },
  voicemail: {
    description: "a caller leaves the agent a voicemail, transcribed",
    steps: (o: ScenarioOptions, call: string): Step[] => [
      {
        offsetS: 0,
        type: 'voicemail.created',
        data: {
          voicemail_id: `vm-${call}`,
          user: o.agent,
          caller_number: '+27215550103',
          caller_name: 'Thandi Mokoena',
          duration_s: 24,
          folder: 'new',
          transcription: 'Hi, this is Thandi about order 7741, please call me back.',
        },
      },
    ],
  },
  'text-message': {
    description: 'a customer texts the agent by SMS, the agent answers, the session is read',
    steps: (o: ScenarioOptions, call: string): Step[] => {
      const session = { session_id: `sms-${call}`, channel: 'sms', user: o.agent };
      const inbound = { message_id: `${call}-in`, from: '+27215550104', to: o.agent, body: 'Is my order shipped?', media_count: 0 };
      const outbound = { message_id: `${call}-out`, from: o.agent, to: '+27215550104', body: 'Yes, it arrives tomorrow.', media_count: 1 };
      const at = (offsetS: number) => new Date((o.now ?? new Date()).getTime() + offsetS * 1000).toISOString();
      // Received a minute before the reply, which happens now.
      const offsets = [-60, -60, 0, 0];
      return textExchange(session, inbound, outbound, at(-60), at(0)).map((event, index) => ({ offsetS: offsets[index] ?? 0, ...event }));
    },
  },
  'subscriber-update': {
    description: "an administrator changes the agent's display name and email",
    steps: (o: ScenarioOptions): Step[] => [
      { offsetS: 0, type: 'subscriber.updated', data: { user: o.agent, domain: domainOf(o), name: 'Agent Smith', changed: { name: 'Agent Smith', email: `agent${o.agent}@${domainOf(o)}` } } },
    ],
  },
  audit: {
    description: 'an administrator adds a user, a phone number and a queue agent, edits a queue, removes a conference (audit log)',
    steps: (o: ScenarioOptions): Step[] => {
      const domain = domainOf(o);
      const change = (action: string, objectType: string, objectId: string, origin = 'api') => auditEntry(domain, action, objectType, objectId, origin);
      return [
        { offsetS: -3, type: 'audit.logged', data: change('create', 'user', `${o.agent}@${domain}`) },
        { offsetS: -2, type: 'audit.logged', data: change('create', 'phonenumber', '+27215550199') },
        { offsetS: -2, type: 'audit.logged', data: change('create', 'agent', `${o.agent}@${o.queue}`) },
        { offsetS: -1, type: 'audit.logged', data: change('update', 'callqueue', o.queue, 'ui') },
        { offsetS: 0, type: 'audit.logged', data: change('delete', 'conference', 'weekly-standup', 'ui') },
      ];
    },
  },
} as const;

export type ScenarioName = keyof typeof SCENARIOS;
export const SCENARIO_NAMES = Object.keys(SCENARIOS) as ScenarioName[];

const domainOf = (o: ScenarioOptions) => o.domain ?? SANDBOX_DOMAIN;

function cdr(o: ScenarioOptions, call: string, dialedOffsetS: number, disposition: string, extra: Record<string, unknown>): Record<string, unknown> {
  const now = (o.now ?? new Date()).getTime();
  return {
    call_id: call,
    number: '+27215550101',
    direction: 'outbound',
    dialed_at: new Date(now + dialedOffsetS * 1000).toISOString(),
    disposition,
    campaign: o.campaign,
    q850_cause: 16,
    sip_code: 200,
    ended_at: new Date(now).toISOString(),
    ...extra,
  };
}

/** The events of a scenario, with ids (`trg_…`) and times; one fresh call id per run. */
export function scenarioEvents(name: ScenarioName, options: ScenarioOptions): ScenarioEvent[] {
  const now = (options.now ?? new Date()).getTime();
  const run = randomBytes(6).toString('hex');
  const call = `trg-call-${run}`;
  return SCENARIOS[name].steps({ ...options, now: new Date(now) }, call).map((step, index) => ({
    id: `trg_${run}_${index + 1}`,
    type: step.type,
    time: new Date(now + step.offsetS * 1000).toISOString(),
    source: 'switchboard-trigger',
    ...(options.domain === undefined ? {} : { scope: { domain: options.domain } }),
    data: step.data,
  }));
}
