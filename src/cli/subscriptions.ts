import type { Command } from 'commander';
import { sinceValue } from './durations.js';
import { callHub, type HubCliDefaults, type HubConnection } from './hub-api.js';

/**
 * `switchboard subscriptions …`: the event-subscription API from a terminal (list, show, create,
 * delete, replay, failed, redrive). Prints the hub's JSON answers.
 */
export function registerSubscriptionCommands(program: Command, defaults: HubCliDefaults, out: NodeJS.WritableStream = process.stdout): void {
  const group = program
    .command('subscriptions')
    .description('manage event subscriptions (webhooks) through the hub API')
    .option('--url <url>', 'hub base URL (SWITCHBOARD_URL)', defaults.url)
    .option('--token <token>', 'bearer token (SWITCHBOARD_API_TOKEN)', defaults.token);
  const connection = (): HubConnection => {
    const options = group.opts<{ url: string; token?: string }>();
    return { url: options.url, ...(options.token ? { token: options.token } : {}) };
  };
  const print = (value: unknown) => void out.write(`${JSON.stringify(value, null, 2)}\n`);

  group
    .command('list')
    .description('list subscriptions')
    .option('--domain <domain>', 'only this domain')
    .action(async (options: { domain?: string }) =>
      print(await callHub(connection(), 'GET', options.domain ? `/v1/domains/${encodeURIComponent(options.domain)}/subscriptions` : '/v1/subscriptions')),
    );

  group
    .command('show <id>')
    .description('show one subscription (status, counters, current server)')
    .action(async (id: string) => print(await callHub(connection(), 'GET', `/v1/subscriptions/${encodeURIComponent(id)}`)));

  group
    .command('create')
    .description('create a subscription; prints its secret, shown only this once')
    .requiredOption('--model <model>', 'agent, call, cdr, presence or campaign')
    .requiredOption('--post-url <url>', 'where to POST the JSON arrays')
    .option('--reseller <reseller>', 'reseller scope (default *)')
    .option('--domain <domain>', 'domain scope (default *, or the token\'s domain)')
    .option('--user <user>', 'user scope (default *)')
    .option('--secret <secret>', 'whsec_… signing secret (default: generated)')
    .option('--preferred-server <nodeId>', 'the hub node to deliver from whenever it is eligible (docs/webhooks.md, Redundancy)')
    .action(async (options: { model: string; postUrl: string; reseller?: string; domain?: string; user?: string; secret?: string; preferredServer?: string }) =>
      print(
        await callHub(connection(), 'POST', '/v1/subscriptions', {
          model: options.model,
          'post-url': options.postUrl,
          ...(options.reseller ? { reseller: options.reseller } : {}),
          ...(options.domain ? { domain: options.domain } : {}),
          ...(options.user ? { user: options.user } : {}),
          ...(options.secret ? { secret: options.secret } : {}),
          ...(options.preferredServer ? { 'preferred-server': options.preferredServer } : {}),
        }),
      ),
    );

  group
    .command('delete <id>')
    .description('delete a subscription')
    .action(async (id: string) => print(await callHub(connection(), 'DELETE', `/v1/subscriptions/${encodeURIComponent(id)}`)));

  group
    .command('replay <id>')
    .description('re-deliver, in order, every matching event accepted since a time')
    .requiredOption('--since <time|duration>', 'ISO 8601 time, e.g. 2026-11-21T10:00:00Z, or how long ago, e.g. 10m, 2h, 1d')
    .action(async (id: string, options: { since: string }) =>
      print(await callHub(connection(), 'POST', `/v1/subscriptions/${encodeURIComponent(id)}/replay`, { since: sinceValue(options.since) })),
    );

  group
    .command('failed <id>')
    .description('list failed deliveries (batches that exhausted their retries)')
    .action(async (id: string) => print(await callHub(connection(), 'GET', `/v1/subscriptions/${encodeURIComponent(id)}/failed`)));

  group
    .command('redrive <id>')
    .description('deliver the failed deliveries again')
    .action(async (id: string) => print(await callHub(connection(), 'POST', `/v1/subscriptions/${encodeURIComponent(id)}/redrive`)));
}
