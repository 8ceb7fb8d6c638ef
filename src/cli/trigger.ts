import { HubClient, type Accepted } from '@switchboard/client';
import type { AcceptedEvent } from '../events/catalogue.js';
import { ValidationError } from '../errors.js';
import { SCENARIO_NAMES, SCENARIOS, scenarioEvents, type ScenarioName } from '../sandbox/scenarios.js';
import { didYouMean } from '../validation.js';
import { MODELS, modelsForEvent, type Model } from '../webhooks/models.js';
import type { HubConnection } from './hub-api.js';

export interface TriggerOptions {
  agent: string;
  queue: string;
  campaign: string;
  domain?: string | undefined;
}

/** `switchboard trigger <scenario>`: posts a named sandbox sequence through the intake, in order, as one batch. */
export async function triggerCommand(connection: HubConnection, scenario: string, options: TriggerOptions, out: NodeJS.WritableStream = process.stdout): Promise<void> {
  if (!(SCENARIO_NAMES as string[]).includes(scenario)) {
    throw new ValidationError(`unknown scenario "${scenario}"${didYouMean(scenario, SCENARIO_NAMES)}; one of ${SCENARIO_NAMES.join(', ')}`, {
      details: [{ path: 'scenario', message: `unknown scenario "${scenario}"` }],
    });
  }
  const name = scenario as ScenarioName;
  const events = scenarioEvents(name, options);
  out.write(`Setting up fixture for: ${name} (${SCENARIOS[name].description})\n`);
  // Scenario events carry their type as a string (sendEvents wants it typed): the plain call; the hub validates them.
  const accepted = await new HubClient(connection).request<Accepted>('POST', '/v1/events', events);
  for (const event of events) out.write(`Running fixture for: ${event.type} [${event.id}]\n`);
  out.write(`Trigger succeeded! ${accepted.accepted} events accepted${accepted.duplicates ? `, ${accepted.duplicates} duplicates` : ''}.\n`);
}

/** The subscription models a scenario's events reach, in the models' order. */
export function scenarioModels(name: ScenarioName): Model[] {
  const reached = new Set(scenarioEvents(name, { agent: '1001', queue: 'sales', campaign: 'spring-sale' }).flatMap((event) => modelsForEvent(event as AcceptedEvent)));
  return MODELS.filter((model) => reached.has(model));
}

/** The scenarios listed under `trigger --help`: built when the help is shown, not when any command starts. */
export const triggerHelp = (): string =>
  SCENARIO_NAMES.map((name) => `  ${name.padEnd(18)} ${SCENARIOS[name].description}\n  ${''.padEnd(18)} (models: ${scenarioModels(name).join(', ')})`).join('\n');
