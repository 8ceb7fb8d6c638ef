import type { AgentStatus, CdrDisposition } from '../events/catalogue.js';

/*
 * Vocabulary mappings between the normalized catalogue and the systems we are compatible with.
 * They are data: docs/mappings.md documents each row and where it comes from. The input side
 * (PBX vocabularies into the catalogue) is src/sources/mappings.ts.
 */

/** Normalized agent status → Enigma `status` (Enigma "Agent Status" page). */
export const ENIGMA_AGENT_STATUS: Readonly<Record<AgentStatus, string>> = {
  logging_in: 'logging_in',
  available: 'available',
  busy: 'busy',
  wrapup: 'wrapup',
  // Enigma has no pause states; they pass through under their own names.
  not_ready: 'not_ready',
  on_break: 'on_break',
  logging_out: 'logging_out',
  offline: 'offline',
};

/** Normalized disposition → Enigma CDR `end_reason` (Enigma "Dispositions" page). */
export const ENIGMA_END_REASON: Readonly<Record<CdrDisposition, string>> = {
  answered: 'hungup',
  callee_hungup: 'callee_hungup',
  agent_hungup: 'agent_hungup',
  machine: 'voicemail',
  busy: 'busy',
  rejected: 'reject',
  no_answer: 'timeout',
  cancelled: 'hungup',
  abandoned: 'callee_hungup',
  failed: 'failed',
  error: 'error',
};

/**
 * Normalized agent status → Newfies `CC_Agent_Status` (FreeSWITCH mod_callcenter statuses plus
 * Newfies' "On Standby"). In mod_callcenter an agent on a call or in wrap-up keeps the status
 * Available (that is its *state*), so busy and wrapup map to Available.
 */
export const NEWFIES_AGENT_STATUS: Readonly<Record<AgentStatus, string>> = {
  logging_in: 'On Standby',
  available: 'Available',
  busy: 'Available',
  wrapup: 'Available',
  not_ready: 'On Break',
  on_break: 'On Break',
  logging_out: 'Logged Out',
  offline: 'Logged Out',
};
