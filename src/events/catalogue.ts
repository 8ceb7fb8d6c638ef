import { Type, type Static, type TLiteral, type TObject, type TProperties, type TUnion } from '@sinclair/typebox';

/**
 * The event catalogue (docs/events.md): one JSON Schema per type, for the event's `data`.
 * Every schema is closed: a field the catalogue does not know (a typo such as `agnet`) is a 400
 * naming it. Sources put their own fields under `data.custom` (types sources submit only), which
 * the log, the integrators' stream and webhooks carry and the Enigma and Newfies formats never do.
 */
const Text = (maxLength = 256) => Type.String({ minLength: 1, maxLength });
const Timestamp = Type.String({ format: 'date-time' });
const Seconds = Type.Number({ minimum: 0 });

export const AGENT_STATUSES = [
  'logging_in',
  'available',
  'busy',
  'wrapup',
  'not_ready',
  'on_break',
  'logging_out',
  'offline',
] as const;
export type AgentStatus = (typeof AGENT_STATUSES)[number];

export const CDR_DISPOSITIONS = [
  'answered',
  'callee_hungup',
  'agent_hungup',
  'machine',
  'busy',
  'rejected',
  'no_answer',
  'cancelled',
  'abandoned',
  'failed',
  'error',
] as const;
export type CdrDisposition = (typeof CDR_DISPOSITIONS)[number];

export const CAMPAIGN_STATUSES = ['started', 'stopping', 'stopped', 'completed'] as const;

/** Integrators' own fields: any JSON object, carried as is. */
const Custom = Type.Record(Type.String({ maxLength: 128 }), Type.Unknown(), {
  description: "The source's own fields, carried to the event log, the integrators' stream and webhooks, never to the Enigma or Newfies formats",
});
const strictData = { additionalProperties: false } as const;

/** The data of a type that sources submit: its catalogue fields and an optional `custom` object, nothing else. */
const submittedData = <T extends TProperties>(fields: T) => Type.Object({ ...fields, custom: Type.Optional(Custom) }, strictData);

const oneOf = <T extends string>(values: readonly T[]) =>
  Type.Union(values.map((value) => Type.Literal(value))) as unknown as TUnion<TLiteral<T>[]>;

const AgentStatusChanged = submittedData({
  agent: Text(128),
  status: oneOf(AGENT_STATUSES),
  status_raw: Type.Optional(Text()),
  campaign: Type.Optional(Text(128)),
  /**
   * Every queue the agent is a member of after this change, as the PBX knows it (a PBX source
   * always sends it; [] once the agent left every queue). Absent: membership is unknown/unchanged.
   */
  queues: Type.Optional(Type.Array(Text(128), { maxItems: 1000, uniqueItems: true })),
  reason: Type.Optional(Text()),
  name: Type.Optional(Text()),
  ref: Type.Optional(Text()),
});

/** The caller's side of a queued call, shared by its lifecycle events (queued, ended, abandoned). */
const queuedCallFields = {
  call_id: Text(128),
  queue: Type.Optional(Text()),
  campaign: Type.Optional(Text(128)),
  number: Type.Optional(Text(64)),
  caller_id: Type.Optional(Text(64)),
  caller_name: Type.Optional(Text()),
  contact_ref: Type.Optional(Text()),
  member_uuid: Type.Optional(Text(128)),
  member_session_uuid: Type.Optional(Text(128)),
  /** When the caller entered the queue (PBX sources know it). */
  queued_at: Type.Optional(Timestamp),
  ref: Type.Optional(Text()),
};

/** An agent's side of a call: the caller's fields and the agent it is offered or connected to. */
const callAgentFields = { ...queuedCallFields, agent: Text(128) };
const CallOffered = submittedData(callAgentFields);
const CallConnected = submittedData({
  ...callAgentFields,
  /** Seconds the caller waited in queue before this agent answered (Asterisk AgentConnect HoldTime). */
  wait_s: Type.Optional(Seconds),
  /** Seconds the agent's phone rang before it answered (Asterisk AgentConnect RingTime). */
  ring_s: Type.Optional(Seconds),
});

/** A caller entered a queue (FreeSWITCH member-queue-start, Asterisk QueueCallerJoin). */
const CallQueued = submittedData(
  {
    ...queuedCallFields,
    queue: Text(),
    /** 1-based position in the queue on entry, and callers waiting then, where the PBX says. */
    position: Type.Optional(Type.Integer({ minimum: 1 })),
    waiting: Type.Optional(Type.Integer({ minimum: 0 })),
  },
);

/** A queued call that reached an agent ended (the bridge ended or the caller left after being served). */
const CallEnded = submittedData(
  {
    ...queuedCallFields,
    agent: Type.Optional(Text(128)),
    answered_at: Type.Optional(Timestamp),
    ended_at: Type.Optional(Timestamp),
    wait_s: Type.Optional(Seconds),
    talk_s: Type.Optional(Seconds),
    hold_s: Type.Optional(Seconds),
    /** Who ended it, where the PBX says. */
    ended_by: Type.Optional(oneOf(['caller', 'agent', 'system'] as const)),
    /** The PBX's hangup cause as it names it (e.g. NORMAL_CLEARING). */
    cause: Type.Optional(Text(128)),
  },
);

export const ABANDON_REASONS = ['caller_hungup', 'timeout', 'no_agent', 'exit_key', 'break_out', 'other'] as const;

/** A caller left the queue before reaching an agent. */
const CallAbandoned = submittedData(
  {
    ...queuedCallFields,
    reason: oneOf(ABANDON_REASONS),
    /** The PBX's own word for it (FreeSWITCH CC-Cancel-Reason, Asterisk event name). */
    reason_raw: Type.Optional(Text(128)),
    abandoned_at: Type.Optional(Timestamp),
    wait_s: Type.Optional(Seconds),
    position: Type.Optional(Type.Integer({ minimum: 1 })),
    original_position: Type.Optional(Type.Integer({ minimum: 1 })),
  },
);

const CdrCreated = submittedData({
  call_id: Text(128),
  number: Text(64),
  direction: oneOf(['outbound', 'inbound']),
  dialed_at: Timestamp,
  disposition: oneOf(CDR_DISPOSITIONS),
  /** null: the callee hung up in queue, before reaching an agent. */
  agent: Type.Optional(Type.Union([Text(128), Type.Null()])),
  campaign: Type.Optional(Text(128)),
  /** The queue the call waited in (the last one, after a transfer between queues). */
  queue: Type.Optional(Text(128)),
  contact_ref: Type.Optional(Text()),
  dial_number: Type.Optional(Text(64)),
  answered_at: Type.Optional(Timestamp),
  ended_at: Type.Optional(Timestamp),
  duration_s: Type.Optional(Seconds),
  /** Seconds the caller waited in queue before an agent answered or the caller gave up. */
  wait_s: Type.Optional(Seconds),
  talk_s: Type.Optional(Seconds),
  hold_s: Type.Optional(Seconds),
  q850_cause: Type.Optional(Type.Integer({ minimum: 0, maximum: 999 })),
  sip_code: Type.Optional(Type.Integer({ minimum: 100, maximum: 699 })),
  recording_url: Type.Optional(Text(2048)),
  ref: Type.Optional(Text()),
});

const CampaignStatusChanged = submittedData({
  campaign: Text(128),
  status: oneOf(CAMPAIGN_STATUSES),
  ref: Type.Optional(Text()),
});

const CampaignDialPreview = submittedData({
  campaign: Text(128),
  callees: Type.Array(Type.Object({ number: Text(64), contact_ref: Type.Optional(Text()) }, strictData), { maxItems: 10_000 }),
  ref: Type.Optional(Text()),
});

/**
 * NetSapiens subscription models beyond calls and agents (docs/contracts/netsapiens-subscriptions.md):
 * voicemail, messages and their sessions, subscriber records, the audit log. Sources submit them.
 */
const VOICEMAIL_FOLDERS = ['new', 'urgent', 'saved'] as const;
const MESSAGE_CHANNELS = ['chat', 'sms'] as const;
export const AUDIT_ACTIONS = ['create', 'update', 'delete'] as const;
/** Where an audited change was made: the API (v1 or v2), the admin UI, or the platform itself. */
const AUDIT_ORIGINS = ['api', 'ui', 'system'] as const;

/** A voicemail was recorded in a user's mailbox. */
const VoicemailCreated = submittedData({
  voicemail_id: Text(128),
  /** The mailbox owner. */
  user: Text(128),
  caller_number: Text(64),
  caller_name: Type.Optional(Text()),
  duration_s: Seconds,
  folder: oneOf(VOICEMAIL_FOLDERS),
  /** Present when the transcription vendor answered before the post; read the voicemail again later otherwise. */
  transcription: Type.Optional(Type.String({ maxLength: 16_384 })),
  recording_url: Type.Optional(Text(2048)),
  ref: Type.Optional(Text()),
});

/** One chat or SMS message, as the user's side sees it. */
const messageFields = {
  message_id: Text(128),
  session_id: Text(128),
  channel: oneOf(MESSAGE_CHANNELS),
  /** The subscriber whose conversation this is (filtered on as the subscription's `user`). */
  user: Text(128),
  from: Text(128),
  to: Text(128),
  /** May be empty when the message is media only. */
  body: Type.String({ maxLength: 16_384 }),
  media_count: Type.Integer({ minimum: 0, maximum: 100 }),
  ref: Type.Optional(Text()),
};
const MessageReceived = submittedData(messageFields);
const MessageSent = submittedData(messageFields);

/** A conversation changed: a new message in it, or it was marked read. */
const MessagesessionUpdated = submittedData({
  session_id: Text(128),
  channel: oneOf(MESSAGE_CHANNELS),
  user: Text(128),
  last_message: Type.Object(
    {
      message_id: Text(128),
      direction: oneOf(['received', 'sent'] as const),
      from: Text(128),
      to: Text(128),
      body: Type.String({ maxLength: 16_384 }),
      media_count: Type.Integer({ minimum: 0, maximum: 100 }),
      sent_at: Timestamp,
    },
    strictData,
  ),
  read_status: oneOf(['read', 'unread'] as const),
  /** Messages the user has not read yet (0 once read). */
  unread_count: Type.Integer({ minimum: 0 }),
  ref: Type.Optional(Text()),
});

/** A subscriber (user) record changed: the changed fields with their new values. */
const SubscriberUpdated = submittedData({
  user: Text(128),
  domain: Text(256),
  changed: Type.Record(Type.String({ minLength: 1, maxLength: 64 }), Type.Union([Type.String({ maxLength: 1024 }), Type.Number(), Type.Boolean(), Type.Null()]), {
    minProperties: 1,
    maxProperties: 200,
  }),
  name: Type.Optional(Text()),
  ref: Type.Optional(Text()),
});

/** One audit-log entry: who changed which object, in which domain. */
const AuditLogged = submittedData({
  actor: Text(256),
  action: oneOf(AUDIT_ACTIONS),
  object_type: Text(64),
  object_id: Text(256),
  /** The domain the change applies to: subscriptions filter their `domain` on it. */
  target_domain: Text(256),
  origin: Type.Optional(oneOf(AUDIT_ORIGINS)),
  summary: Type.Optional(Text(1024)),
  ref: Type.Optional(Text()),
});

/** The longest ANI a cti.* event holds: the CTI store takes no longer one (src/cti/routes.ts). */
export const MAX_CTI_ANI_LENGTH = 64;

/** CTI cache (src/cti): an entry stored or fetched. Never the caller's value, only its size. */
const ctiEntryFields = {
  pool: Text(64),
  dnis: Text(32),
  /** "" or a word such as "anonymous" when the caller withheld the number. */
  ani: Type.String({ maxLength: MAX_CTI_ANI_LENGTH }),
  size_bytes: Type.Integer({ minimum: 0 }),
};
const CtiDataStored = Type.Object(ctiEntryFields, strictData);
const CtiDataFetched = Type.Object({ ...ctiEntryFields, deleted: Type.Boolean() }, strictData);

/** Operational events of event subscriptions (src/webhooks): status changes, never silent. */
const subscriptionFields = {
  subscription_id: Text(64),
  model: Text(64),
  status: oneOf(['active', 'error', 'disabled'] as const),
  reason: Type.Optional(Text(1024)),
  /** Events of a batch that exhausted its retries and went to the subscription's failed deliveries. */
  failed_events: Type.Optional(Type.Integer({ minimum: 0 })),
  post_origin: Type.Optional(Text(2048)),
};
const SubscriptionError = Type.Object(subscriptionFields, strictData);
const SubscriptionDisabled = Type.Object(subscriptionFields, strictData);
const SubscriptionRecovered = Type.Object(subscriptionFields, strictData);
/** A subscription moved to another hub node (docs/webhooks.md, "Redundancy"). */
const SubscriptionOwnerChanged = Type.Object(
  {
    subscription_id: Text(64),
    model: Text(64),
    from: Text(128),
    to: Text(128),
    reason: oneOf(['failover', 'rebalance', 'preferred', 'shutdown'] as const),
    post_origin: Type.Optional(Text(2048)),
  },
  strictData,
);

/** Operational events of PBX sources (src/sources): emitted by the hub, never accepted at intake. */
export const SOURCE_KINDS = ['freeswitch', 'asterisk'] as const;
const sourceFields = {
  /** The source's configured name. */
  source: Text(128),
  kind: oneOf(SOURCE_KINDS),
};

/** The hub re-read the PBX's state (agents, queues) after connecting, a restart or a gap. */
const SourceResynced = Type.Object(
  {
    ...sourceFields,
    reason: oneOf(['connected', 'reconnected', 'restarted', 'sequence_gap'] as const),
    agents: Type.Integer({ minimum: 0 }),
    queues: Type.Optional(Type.Integer({ minimum: 0 })),
    /** Callers waiting in a queue at the time of the resync. */
    waiting: Type.Optional(Type.Integer({ minimum: 0 })),
    /** agent.status_changed events emitted because an agent's status differed from the last one known. */
    corrected: Type.Integer({ minimum: 0 }),
    /** FreeSWITCH Core-UUID: a new one means the PBX restarted. */
    core_uuid: Type.Optional(Text(128)),
  },
  strictData,
);

/** Events the hub may have missed: a jump in the PBX's event sequence, a restart, or time disconnected. */
const SourceGap = Type.Object(
  {
    ...sourceFields,
    reason: oneOf(['sequence_gap', 'restarted', 'disconnected'] as const),
    /** Events missed, where the PBX numbers its events (FreeSWITCH Event-Sequence). */
    missed: Type.Optional(Type.Integer({ minimum: 0 })),
    last_seq: Type.Optional(Type.Integer({ minimum: 0 })),
    next_seq: Type.Optional(Type.Integer({ minimum: 0 })),
    /** How long the hub was disconnected, when the gap comes from a reconnect. */
    disconnected_ms: Type.Optional(Type.Integer({ minimum: 0 })),
    core_uuid: Type.Optional(Text(128)),
  },
  strictData,
);

/*
 * Live figures (docs/live.md): an offer the agent did not take, holds, and the hub's live alerts.
 */

/** An offer the agent did not take (Asterisk AgentRingNoAnswer, FreeSWITCH bridge-agent-fail): the call goes back to waiting. */
const CallMissed = submittedData({
  ...callAgentFields,
  /** Seconds the agent's phone rang, where the PBX says (Asterisk RingTime, in ms there). */
  ring_s: Type.Optional(Seconds),
  missed_at: Type.Optional(Timestamp),
  /** The PBX's own word for it (Asterisk event name, FreeSWITCH hangup cause). */
  reason_raw: Type.Optional(Text(128)),
});

/** The agent put the caller on hold (`call.held`) or took the caller back (`call.resumed`). */
const callHoldFields = { call_id: Text(128), agent: Type.Optional(Text(128)), queue: Type.Optional(Text()), ref: Type.Optional(Text()) };
const CallHeld = submittedData(callHoldFields);
const CallResumed = submittedData(callHoldFields);

export const LIVE_ALERT_CODES = ['service_level_below', 'longest_wait_over', 'after_call_work_over', 'not_ready_over'] as const;
export type LiveAlertCode = (typeof LIVE_ALERT_CODES)[number];

/**
 * A live alert began (emitted by the hub's live state, src/live/alerts.ts): a queue's service
 * level under its threshold or a caller waiting too long (`queue`), an agent in after-call work
 * or not ready too long (`agent`). `value` and `threshold` are in the figure's unit (% or s).
 */
const LiveAlert = Type.Object(
  {
    code: oneOf(LIVE_ALERT_CODES),
    since: Timestamp,
    queue: Type.Optional(Text()),
    agent: Type.Optional(Text(128)),
    value: Type.Number({ minimum: 0 }),
    threshold: Type.Number({ minimum: 0 }),
  },
  strictData,
);

export const EVENT_DATA_SCHEMAS = {
  'agent.status_changed': AgentStatusChanged,
  'call.offered': CallOffered,
  'call.connected': CallConnected,
  'call.queued': CallQueued,
  'call.ended': CallEnded,
  'call.abandoned': CallAbandoned,
  'cdr.created': CdrCreated,
  'campaign.status_changed': CampaignStatusChanged,
  'campaign.dial_preview': CampaignDialPreview,
  'cti.data_stored': CtiDataStored,
  'cti.data_fetched': CtiDataFetched,
  'subscription.error': SubscriptionError,
  'subscription.disabled': SubscriptionDisabled,
  'subscription.recovered': SubscriptionRecovered,
  'source.resynced': SourceResynced,
  'source.gap': SourceGap,
  'subscription.owner_changed': SubscriptionOwnerChanged,
  'voicemail.created': VoicemailCreated,
  'message.received': MessageReceived,
  'message.sent': MessageSent,
  'messagesession.updated': MessagesessionUpdated,
  'subscriber.updated': SubscriberUpdated,
  'audit.logged': AuditLogged,
  'call.missed': CallMissed,
  'call.held': CallHeld,
  'call.resumed': CallResumed,
  'live.alert': LiveAlert,
} satisfies Record<string, TObject>;

export type EventType = keyof typeof EVENT_DATA_SCHEMAS;

/**
 * Nouns of the events only the hub itself emits (CTI cache records, subscription status, PBX
 * source state, live alerts). Intake refuses them, so consumers can trust that such an event came from the
 * hub; every type under these nouns, present or future, is covered.
 */
export const HUB_EMITTED_NOUNS = ['cti', 'subscription', 'source', 'hub', 'integrator', 'live'] as const;

export function isHubEmittedType(type: string): boolean {
  const noun = type.slice(0, type.indexOf('.'));
  return (HUB_EMITTED_NOUNS as readonly string[]).includes(noun);
}
export const EVENT_TYPES = Object.keys(EVENT_DATA_SCHEMAS) as EventType[];

export type AgentStatusChangedData = Static<typeof AgentStatusChanged>;
export type CallAgentData = Static<typeof CallOffered>;
export type CdrCreatedData = Static<typeof CdrCreated>;
export type CallQueuedData = Static<typeof CallQueued>;
export type CallEndedData = Static<typeof CallEnded>;
export type CallAbandonedData = Static<typeof CallAbandoned>;
export type SourceResyncedData = Static<typeof SourceResynced>;
export type SourceGapData = Static<typeof SourceGap>;
export type LiveAlertData = Static<typeof LiveAlert>;
export type CampaignStatusChangedData = Static<typeof CampaignStatusChanged>;
export type CampaignDialPreviewData = Static<typeof CampaignDialPreview>;

export const EventScope = Type.Object(
  {
    reseller: Type.Optional(Text(128)),
    domain: Type.Optional(Text(256)),
    user: Type.Optional(Text(128)),
  },
  { additionalProperties: false },
);
export type EventScope = Static<typeof EventScope>;

/** The envelope as a client submits it. */
export const SubmittedEvent = Type.Object(
  {
    id: Type.Optional(Text(128)),
    type: Type.String({ minLength: 1, maxLength: 128 }),
    time: Type.Optional(Timestamp),
    source: Type.Optional(Text()),
    scope: Type.Optional(EventScope),
    data: Type.Object({}),
  },
  { additionalProperties: false },
);

/** An accepted event: id and time are always set. This is what the log stores. */
export interface AcceptedEvent {
  id: string;
  type: EventType;
  time: string;
  source?: string;
  scope?: EventScope;
  data: Record<string, unknown>;
}
