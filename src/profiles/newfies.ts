import type { NewfiesProfileConfig } from '../config/schema.js';
import type { AcceptedEvent, AgentStatusChangedData, CallAgentData } from '../events/catalogue.js';
import { NEWFIES_AGENT_STATUS } from './mappings.js';
import type { Output, OutputProfile } from './output.js';

/**
 * Newfies-Dialer call-centre events (docs/contracts/newfies.md) on one channel, byte-compatible with the documented
 * payloads: the event name key ends with a colon inside the quotes, a space precedes the outer
 * colon, separators are Python's `json.dumps` defaults (", " and ": "), non-ASCII is \u-escaped
 * (ensure_ascii) and every value is a string (absent fields are "").
 */
export class NewfiesProfile implements OutputProfile {
  readonly name = 'newfies';

  constructor(private readonly config: NewfiesProfileConfig) {}

  outputsFor(event: AcceptedEvent): Output[] {
    switch (event.type) {
      case 'call.offered':
        return [this.publish('Offering-Call-Agent', this.callFields(event.data as CallAgentData))];
      case 'call.connected':
        return [this.publish('Connected-Call-Agent', this.callFields(event.data as CallAgentData))];
      case 'agent.status_changed': {
        const data = event.data as AgentStatusChangedData;
        return [this.publish('Agent-Status-Change', [
          ['CC_Agent', data.agent],
          ['CC_Agent_Status', NEWFIES_AGENT_STATUS[data.status]],
        ])];
      }
      default:
        return [];
    }
  }

  /** Field order as in the documented Offering-Call-Agent example. */
  private callFields(data: CallAgentData): [string, string | undefined][] {
    return [
      ['callrequest_id', data.call_id],
      ['CC_Agent', data.agent],
      ['campaign_id', data.campaign],
      ['CC_Member_CID_Name', data.caller_name],
      ['CC_Agent_System', this.config.agentSystem],
      ['phonenumber', data.number],
      ['callerid_number', data.number],
      ['CC_Member_Session_UUID', data.member_session_uuid],
      ['CC_Member_UUID', data.member_uuid],
      ['CC_Member_CID_Number', data.caller_id],
      ['CC_Queue', data.queue],
    ];
  }

  private publish(eventName: string, fields: [string, string | undefined][]): Output {
    const body = fields.map(([key, value]) => `${JSON.stringify(key)}: ${JSON.stringify(value ?? '')}`).join(', ');
    return { op: 'publish', channel: this.config.channel, message: asciiOnly(`{${JSON.stringify(`${eventName}:`)} : {${body}}}`) };
  }
}

/** Escapes non-ASCII as \uXXXX, as Python's json.dumps does by default (ensure_ascii=True). */
function asciiOnly(json: string): string {
  return json.replace(/[\u0080-\uffff]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
