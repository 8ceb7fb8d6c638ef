import type { ABANDON_REASONS, AgentStatus, CdrDisposition, EventType } from '../events/catalogue.js';

/*
 * Vocabulary mappings from the PBXs Switchboard listens to into the normalized catalogue: the
 * input side of src/profiles/mappings.ts. They are data: docs/sources.md documents each row.
 */

type AbandonReason = (typeof ABANDON_REASONS)[number];

/**
 * FreeSWITCH mod_callcenter `CC-Action` (Event-Subclass callcenter::info) → catalogue event.
 * `member-queue-end` depends on `CC-Cause`: see FREESWITCH_QUEUE_END. `agent-state-change` gives
 * after-call work (FreeswitchMapper). Actions not listed here (members-count, …) are counted as ignored.
 */
export const FREESWITCH_CC_ACTIONS: Readonly<Record<string, EventType>> = {
  'agent-status-change': 'agent.status_changed',
  'agent-offering': 'call.offered',
  'bridge-agent-start': 'call.connected',
  'member-queue-start': 'call.queued',
  // A caller re-entering a queue after abandoning it (abandoned-resume-allowed).
  'member-queue-resume': 'call.queued',
  'bridge-agent-end': 'call.ended',
  // The agent's leg did not answer, or failed: an offer the agent missed.
  'bridge-agent-fail': 'call.missed',
};

/**
 * `member-queue-end` by its `CC-Cause` header (capitalised). The channel variable `cc_cause` that
 * mod_callcenter sets on the caller's leg is lower case (`cancel`, `answered`): docs/sources.md.
 */
export const FREESWITCH_QUEUE_END: Readonly<Record<string, EventType>> = {
  Terminated: 'call.ended',
  Cancel: 'call.abandoned',
};

/** mod_callcenter agent statuses (`CC-Agent-Status`, `callcenter_config agent list`). */
export const FREESWITCH_AGENT_STATUS: Readonly<Record<string, AgentStatus>> = {
  Available: 'available',
  'Available (On Demand)': 'available',
  'On Break': 'on_break',
  'Logged Out': 'offline',
};

/** mod_callcenter `CC-Cancel-Reason` of a caller who left the queue unserved. */
export const FREESWITCH_CANCEL_REASON: Readonly<Record<string, AbandonReason>> = {
  NONE: 'caller_hungup',
  TIMEOUT: 'timeout',
  NO_AGENT_TIMEOUT: 'no_agent',
  // Also a caller who hung up while waiting: the mapper tells that from the event's channel data.
  BREAK_OUT: 'break_out',
  EXIT_WITH_KEY: 'exit_key',
};

/** Asterisk AMI event → catalogue event (app_queue, cdr_manager). */
export const ASTERISK_EVENTS: Readonly<Record<string, EventType>> = {
  QueueCallerJoin: 'call.queued',
  // Asterisk 1.8–11 name of QueueCallerJoin.
  Join: 'call.queued',
  AgentCalled: 'call.offered',
  AgentConnect: 'call.connected',
  AgentComplete: 'call.ended',
  // Rang the member without an answer within the queue's timeout.
  AgentRingNoAnswer: 'call.missed',
  QueueCallerAbandon: 'call.abandoned',
  QueueMemberStatus: 'agent.status_changed',
  QueueMemberPause: 'agent.status_changed',
  // Asterisk 1.8–11 name of QueueMemberPause.
  QueueMemberPaused: 'agent.status_changed',
  // Log in and log out of a queue: the member's queues change, and with none left it is offline.
  QueueMemberAdded: 'agent.status_changed',
  QueueMemberRemoved: 'agent.status_changed',
  Cdr: 'cdr.created',
};

/**
 * A queue member's device state (QueueMemberStatus / QueueMember `Status`, AST_DEVICE_*) → agent
 * status, when the member is not paused (a paused member is not_ready).
 */
export const ASTERISK_DEVICE_STATUS: Readonly<Record<string, AgentStatus>> = {
  '0': 'available', // UNKNOWN: Asterisk cannot tell (e.g. no device state provider); it does offer calls
  '1': 'available', // NOT_INUSE
  '2': 'busy', // INUSE
  '3': 'busy', // BUSY
  '4': 'offline', // INVALID
  '5': 'offline', // UNAVAILABLE
  '6': 'busy', // RINGING
  '7': 'busy', // RINGINUSE
  '8': 'busy', // ONHOLD
};

/** cdr_manager `Disposition` → disposition, for calls the Cdr event alone describes. */
export const ASTERISK_CDR_DISPOSITION: Readonly<Record<string, CdrDisposition>> = {
  ANSWERED: 'answered',
  'NO ANSWER': 'no_answer',
  BUSY: 'busy',
  FAILED: 'failed',
  CONGESTION: 'error',
};

/**
 * AgentComplete `Reason` → the call record's disposition for a call an agent served. The caller
 * is the customer, the catalogue's callee; a transfer ends this agent's part, not the call.
 */
export const ASTERISK_COMPLETE_DISPOSITION: Readonly<Record<string, CdrDisposition>> = {
  caller: 'callee_hungup',
  agent: 'agent_hungup',
  transfer: 'answered',
};

/** AgentComplete `Reason` → who ended the call. */
export const ASTERISK_COMPLETE_REASON: Readonly<Record<string, 'caller' | 'agent' | 'system'>> = {
  caller: 'caller',
  agent: 'agent',
  transfer: 'system',
};

/** FreeSWITCH hangup cause names (`Hangup-Cause`) → Q.850 cause code (switch_types.h). */
export const Q850_BY_NAME: Readonly<Record<string, number>> = {
  UNALLOCATED_NUMBER: 1,
  NO_ROUTE_TRANSIT_NET: 2,
  NO_ROUTE_DESTINATION: 3,
  NORMAL_CLEARING: 16,
  USER_BUSY: 17,
  NO_USER_RESPONSE: 18,
  NO_ANSWER: 19,
  SUBSCRIBER_ABSENT: 20,
  CALL_REJECTED: 21,
  NUMBER_CHANGED: 22,
  DESTINATION_OUT_OF_ORDER: 27,
  INVALID_NUMBER_FORMAT: 28,
  FACILITY_REJECTED: 29,
  NORMAL_UNSPECIFIED: 31,
  NORMAL_CIRCUIT_CONGESTION: 34,
  NETWORK_OUT_OF_ORDER: 38,
  NORMAL_TEMPORARY_FAILURE: 41,
  SWITCH_CONGESTION: 42,
  REQUESTED_CHAN_UNAVAIL: 44,
  BEARERCAPABILITY_NOTAVAIL: 58,
  INCOMPATIBLE_DESTINATION: 88,
  RECOVERY_ON_TIMER_EXPIRE: 102,
  ORIGINATOR_CANCEL: 487,
  LOSE_RACE: 502,
  ATTENDED_TRANSFER: 801,
  GATEWAY_DOWN: 809,
};

/**
 * Q.850 cause of a call that was never answered → disposition. Causes not listed are `failed`.
 * The SIP code is carried beside it, never derived from it (nor the other way round).
 */
export const UNANSWERED_DISPOSITION_BY_Q850: Readonly<Record<number, CdrDisposition>> = {
  1: 'error', // unallocated number
  2: 'error',
  3: 'error', // no route
  16: 'cancelled', // cleared normally before anyone answered: the caller side gave up
  17: 'busy',
  18: 'no_answer',
  19: 'no_answer',
  20: 'no_answer', // subscriber absent
  21: 'rejected',
  22: 'error', // number changed
  27: 'error',
  28: 'error', // invalid number format
  29: 'rejected',
  34: 'error', // congestion
  38: 'error',
  42: 'error',
  44: 'error',
  102: 'no_answer', // timer expired
  487: 'cancelled', // originator cancel
};

/**
 * `sip_hangup_disposition` of the customer leg of an answered call → who hung up. The leg faces
 * the customer, so a BYE received from it means the callee hung up.
 */
export const HANGUP_DISPOSITION: Readonly<Record<string, 'callee_hungup' | 'agent_hungup'>> = {
  recv_bye: 'callee_hungup',
  recv_cancel: 'callee_hungup',
  send_bye: 'agent_hungup',
};
