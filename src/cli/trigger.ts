import { HubClient, type Accepted } from '@switchboard/client';
import { ValidationError } from '../errors.js';
import { SCENARIO_NAMES, SCENARIOS, scenarioEvents, type ScenarioName } from '../sandbox/scenarios.js';
import type { HubConnection } from './hub-api.js';

export interface TriggerOptions {
  agent: string;
  queue: string;
  campaign: string;
}

/** `switchboard trigger <scenario>`: posts a named sandbox sequence through the intake, in order, as one batch. */
export async function triggerCommand(connection: HubConnection, scenario: string, options: TriggerOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!(SCENARIO_NAMES as string[]).includes(scenario)) {
    throw new ValidationError(`unknown scenario "${scenario}"; one of ${SCENARIO_NAMES.join(', ')}`, { details: [{ path: 'scenario', message: `unknown scenario "${scenario}"` }] });
  }
  const name = scenario as ScenarioName;
  const events = scenarioEvents(name, options);
  out.write(`Setting up fixture for: ${name} (${SCENARIOS[name].description})\n`);
  // Scenario events carry their type as a string (sendEvents wants it typed): the plain call; the hub validates them.
  const accepted = await new HubClient(connection).request<Accepted>('POST', '/v1/events', events);
  for (const event of events) out.write(`Running fixture for: ${event.type} [${event.id}]\n`);
  out.write(`Trigger succeeded! ${accepted.accepted} events accepted${accepted.duplicates ? `, ${accepted.duplicates} duplicates` : ''}.\n`);
}

export const TRIGGER_HELP = SCENARIO_NAMES.map((name) => `  ${name.padEnd(15)} ${SCENARIOS[name].description}`).join('\n');
