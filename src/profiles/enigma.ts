import type { EnigmaProfileConfig } from '../config/schema.js';
import type {
  AcceptedEvent,
  AgentStatusChangedData,
  CallAgentData,
  CampaignDialPreviewData,
  CampaignStatusChangedData,
  CdrCreatedData,
} from '../events/catalogue.js';
import type { Keys } from '../redis/keys.js';
import { ENIGMA_AGENT_STATUS, ENIGMA_END_REASON } from './mappings.js';
import type { Output, OutputProfile } from './output.js';

/**
 * Enigma dialler notifications (docs/contracts/enigma.md): `{type, payload}`
 * published per agent and per campaign, CDRs LPUSHed to one list that a worker BRPOPs (FIFO).
 * Absent optional fields are sent as null, so every payload always has the same keys.
 */
export class EnigmaProfile implements OutputProfile {
  readonly name = 'enigma';

  constructor(
    private readonly keys: Keys,
    private readonly config: EnigmaProfileConfig,
    /**
     * On Redis Cluster the CDR list is not in the log's slot: the append script leaves it alone
     * and the list relay fills it from the log (src/integrators/list-relay.ts).
     */
    private readonly cdrListByRelay = false,
  ) {}

  outputsFor(event: AcceptedEvent): Output[] {
    switch (event.type) {
      case 'agent.status_changed': {
        const data = event.data as AgentStatusChangedData;
        return [this.publish(this.keys.enigmaAgentChannel(data.agent), 'status', {
          status: ENIGMA_AGENT_STATUS[data.status],
          campaign_ref: data.campaign ?? null,
          ref: data.ref ?? null,
        })];
      }
      case 'call.connected': {
        const data = event.data as CallAgentData;
        return [this.publish(this.keys.enigmaAgentChannel(data.agent), 'call', {
          call_ref: data.call_id,
          agent: data.agent,
          contact_ref: data.contact_ref ?? null,
          number: data.number ?? null,
          ref: data.ref ?? null,
        })];
      }
      case 'campaign.status_changed': {
        const data = event.data as CampaignStatusChangedData;
        return [this.publish(this.keys.enigmaCampaignChannel(data.campaign), 'status', {
          status: data.status,
          ref: data.ref ?? null,
        })];
      }
      case 'campaign.dial_preview': {
        const data = event.data as CampaignDialPreviewData;
        return [this.publish(this.keys.enigmaCampaignChannel(data.campaign), 'dial_preview', {
          callees: data.callees.map((callee) => ({ number: callee.number, contact_ref: callee.contact_ref ?? null })),
          ref: data.ref ?? null,
        })];
      }
      case 'cdr.created':
        if (this.cdrListByRelay) return [];
        return [{ op: 'lpush', key: this.keys.enigmaCdrList, message: this.cdrMessage(event.data as CdrCreatedData) }];
      default:
        return [];
    }
  }

  /** The Enigma CDR message; also what per-integrator legacy lists carry. */
  cdrMessage(data: CdrCreatedData): string {
    return JSON.stringify({
      type: 'cdr',
      payload: {
        extension: data.agent ?? null,
        call_ref: data.call_id,
        contact_ref: data.contact_ref ?? null,
        dialed_at: data.dialed_at,
        end_reason: ENIGMA_END_REASON[data.disposition],
        end_code: (this.config.endCode === 'q850' ? data.q850_cause : data.sip_code) ?? null,
        call_time: data.duration_s ?? null,
        call_dir: data.direction,
        recording_url: data.recording_url ?? null,
        // The CDR page documents `ref` as the campaign reference.
        ref: data.ref ?? data.campaign ?? null,
        number: data.number,
        dial_number: data.dial_number ?? null,
      },
    });
  }

  private publish(channel: string, type: string, payload: Record<string, unknown>): Output {
    return { op: 'publish', channel, message: JSON.stringify({ type, payload }) };
  }
}
