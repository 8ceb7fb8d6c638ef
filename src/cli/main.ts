#!/usr/bin/env -S node --max-semi-space-size=32
// A larger young generation: intake allocates many short-lived strings (npm run bench: about +20 % spool drain).
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { Command } from 'commander';
import { eventLogKey } from '../redis/keys.js';
import { describeCliError } from './errors.js';
import { defaultSecretFile, listenCommand, resendCommand } from './listen.js';
import { simulateCommand } from './simulate.js';
import { triggerCommand, triggerHelp } from './trigger.js';
import { registerIntegratorCommands } from './integrators.js';
import { registerPbxCommands } from './pbx.js';
import { addRedisOptions, topologyFromOptions, type RedisCliOptions } from './redis-options.js';
import { cliDefaults } from './hub-defaults.js';
import { startCommand } from './start.js';
import { registerSubscriptionCommands } from './subscriptions.js';
import { tailCommand } from './tail.js';

// The one read of the environment: the hub's config (loadConfig) gives the commands their defaults.
const env = process.env;
const defaults = (() => {
  try {
    return cliDefaults(env);
  } catch (error) {
    process.stderr.write(`switchboard: ${describeCliError(error)}\n`);
    process.exit(1);
  }
})();
const defaultUrl = defaults.url;
const integer = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`expected a non-negative integer, got "${value}"`);
  return parsed;
};

// `… | head` closes the pipe early: that is the reader being done, not an error worth a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
}

/** The version of the installed package (../../package.json from src/cli and from dist/cli alike). */
const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const program = new Command()
  .name('switchboard')
  .version(version, '-V, --version', 'print the version')
  .description('Telephony event hub: dialler/PBX events to Redis Pub/Sub, durable queues, streams and signed webhooks');

program
  .command('start')
  .description('run the hub')
  .option('-c, --config <file>', 'YAML or JSON config file (also SWITCHBOARD_CONFIG)')
  .action((options: { config?: string }) => startCommand(options, env));

program
  .command('simulate')
  .description('drive sandbox dialler traffic (agents, campaigns, calls, CDRs) through the intake')
  .option('--url <url>', 'hub base URL (SWITCHBOARD_URL)', defaultUrl)
  .option('--token <token>', 'bearer token with the ingest role (SWITCHBOARD_API_TOKEN)', defaults.token)
  .option('--rate <events/s>', 'events per second', integer, 20)
  .option('--agents <n>', 'agents', integer, 10)
  .option('--campaigns <n>', 'campaigns', integer, 2)
  .option('--duration <s>', 'seconds to run (0: until Ctrl-C)', integer, 60)
  .option('--max-batch <n>', 'most events per request', integer, 100)
  .option('--seed <n>', 'pseudo-random seed (same seed, same traffic)', integer, 1)
  .action(async (options: { url: string; token?: string; rate: number; agents: number; campaigns: number; duration: number; maxBatch: number; seed: number }) => {
    const summary = await simulateCommand({ ...options, durationS: options.duration });
    if (summary.rejected.size > 0) process.exitCode = 1;
  });

addRedisOptions(program.command('tail [patterns...]'))
  .description("pretty-print notifications, e.g. switchboard tail 'enigma:notifications:agents:*'")
  .option('--log', 'follow the event log stream instead of Pub/Sub (shows CDRs too)')
  .option('--key-prefix <prefix>', 'keyPrefix of the hub, for --log (SWITCHBOARD_KEY_PREFIX)', defaults.keyPrefix)
  .action((patterns: string[], options: RedisCliOptions & { log?: boolean; keyPrefix: string }) =>
    tailCommand(patterns, { redis: topologyFromOptions(options, defaults.redis), ...(options.log ? { logKey: eventLogKey(options.keyPrefix) } : {}) }),
  );

registerSubscriptionCommands(program, defaults);

const collect = (value: string, previous: string[]) => [...previous, value];
const hubOptions = (command: Command) =>
  command
    .option('--url <url>', 'hub base URL (SWITCHBOARD_URL)', defaultUrl)
    .option('--token <token>', 'bearer token (SWITCHBOARD_API_TOKEN)', defaults.token);
const connectionOf = (options: { url: string; token?: string }) => ({ url: options.url, ...(options.token ? { token: options.token } : {}) });
const secretFile = defaultSecretFile(env, homedir());

hubOptions(program.command('listen'))
  .description('forward the hub\'s events to a local URL, signed like a webhook subscription (no public URL needed)')
  .option('-f, --forward-to <url>', 'where to POST each event (required unless --print-secret)')
  .option('--types <types>', 'comma-separated event types; call.* takes a family (default: every type, or the model\'s)')
  .option('--model <model>', 'subscription model of the posted objects: agent, call, cdr, presence or campaign')
  .option('-H, --header <header>', "extra header on every POST, 'Name: value' (repeatable)", collect, [])
  .option('--print-secret', 'print the signing secret and exit')
  .action(async (options: { url: string; token?: string; forwardTo?: string; types?: string; model?: string; header: string[]; printSecret?: boolean }) => {
    const stop = new AbortController();
    process.once('SIGINT', () => stop.abort());
    process.once('SIGTERM', () => stop.abort());
    await listenCommand(connectionOf(options), { ...options, headers: options.header, secretFile }, stop.signal);
  });

hubOptions(program.command('resend <eventId>'))
  .description('forward one logged event again to a local URL (listen never retries)')
  .requiredOption('-f, --forward-to <url>', 'where to POST the event')
  .option('--model <model>', 'subscription model of the posted object')
  .option('-H, --header <header>', "extra header, 'Name: value' (repeatable)", collect, [])
  .action(async (eventId: string, options: { url: string; token?: string; forwardTo: string; model?: string; header: string[] }) => {
    if (!(await resendCommand(connectionOf(options), eventId, { ...options, headers: options.header, secretFile }))) process.exitCode = 1;
  });

hubOptions(program.command('trigger <scenario>'))
  .description('post a named sandbox sequence through the intake')
  .addHelpText('after', () => `\nScenarios:\n${triggerHelp()}`)
  .option('--agent <agent>', 'agent of the scenario', '1001')
  .option('--queue <queue>', 'queue of the scenario', 'sales')
  .option('--campaign <campaign>', 'campaign of the scenario', 'spring-sale')
  .option('--domain <domain>', "the events' scope.domain (and the domain of audited and updated records)")
  .action((scenario: string, options: { url: string; token?: string; agent: string; queue: string; campaign: string; domain?: string }) => triggerCommand(connectionOf(options), scenario, options));

registerIntegratorCommands(program, defaults);

registerPbxCommands(program, env, defaults.logLevel);

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`switchboard: ${describeCliError(error)}\n`);
  process.exit(1);
});
