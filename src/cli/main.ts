#!/usr/bin/env -S node --max-semi-space-size=32
// A larger young generation: intake allocates many short-lived strings (npm run bench: about +20 % spool drain).
import { Command } from 'commander';
import { eventLogKey } from '../redis/keys.js';
import { describeCliError } from './errors.js';
import { simulateCommand } from './simulate.js';
import { registerIntegratorCommands } from './integrators.js';
import { addRedisOptions, topologyFromOptions, type RedisCliOptions } from './redis-options.js';
import { startCommand } from './start.js';
import { registerSubscriptionCommands } from './subscriptions.js';
import { tailCommand } from './tail.js';

const env = process.env;
const defaultUrl = env.SWITCHBOARD_URL ?? `http://127.0.0.1:${env.SWITCHBOARD_HTTP_PORT ?? 8080}`;
const integer = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new Error(`expected a non-negative integer, got "${value}"`);
  return parsed;
};

const program = new Command()
  .name('switchboard')
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
  .option('--token <token>', 'bearer token with the ingest role (SWITCHBOARD_API_TOKEN)', env.SWITCHBOARD_API_TOKEN)
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

addRedisOptions(program.command('tail [patterns...]'), env)
  .description("pretty-print notifications, e.g. switchboard tail 'enigma:notifications:agents:*'")
  .option('--log', 'follow the event log stream instead of Pub/Sub (shows CDRs too)')
  .option('--key-prefix <prefix>', 'keyPrefix of the hub, for --log', env.SWITCHBOARD_KEY_PREFIX ?? 'switchboard')
  .action((patterns: string[], options: RedisCliOptions & { log?: boolean; keyPrefix: string }) =>
    tailCommand(patterns, { redis: topologyFromOptions(options), ...(options.log ? { logKey: eventLogKey(options.keyPrefix) } : {}) }),
  );

registerSubscriptionCommands(program, { url: defaultUrl, token: env.SWITCHBOARD_API_TOKEN });

registerIntegratorCommands(program, { url: defaultUrl, token: env.SWITCHBOARD_API_TOKEN });

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`switchboard: ${describeCliError(error)}\n`);
  process.exit(1);
});
