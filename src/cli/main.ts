#!/usr/bin/env node
import { Command } from 'commander';
import { SwitchboardError } from '../errors.js';
import { startCommand } from './start.js';

const program = new Command()
  .name('switchboard')
  .description('Telephony event hub: dialler/PBX events to Redis Pub/Sub, durable queues, streams and signed webhooks');

program
  .command('start')
  .description('run the hub')
  .option('-c, --config <file>', 'YAML or JSON config file (also SWITCHBOARD_CONFIG)')
  .action((options: { config?: string }) => startCommand(options, process.env));

program.parseAsync(process.argv).catch((error: unknown) => {
  const message = error instanceof SwitchboardError ? `${error.code}: ${error.message}` : String((error as Error)?.stack ?? error);
  process.stderr.write(`switchboard: ${message}\n`);
  process.exit(1);
});
