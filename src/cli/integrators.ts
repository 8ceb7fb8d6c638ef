import type { Command } from 'commander';
import { sinceValue } from './durations.js';
import { callHub, type HubCliDefaults, type HubConnection } from './hub-api.js';

/**
 * `switchboard integrators add|list|show|remove` and `switchboard replay`: the integrators API
 * from a terminal. Prints the hub's JSON answers; replay prints one JSON line per event.
 */
export function registerIntegratorCommands(program: Command, defaults: HubCliDefaults, out: NodeJS.WritableStream = process.stdout): void {
  const connectionOptions = (command: Command) =>
    command
      .option('--url <url>', 'hub base URL (SWITCHBOARD_URL)', defaults.url)
      .option('--token <token>', 'bearer token (SWITCHBOARD_API_TOKEN)', defaults.token);
  const connectionOf = (command: Command): HubConnection => {
    const options = command.optsWithGlobals<{ url: string; token?: string }>();
    return { url: options.url, ...(options.token ? { token: options.token } : {}) };
  };
  const print = (value: unknown) => void out.write(`${JSON.stringify(value, null, 2)}\n`);
  const path = (name: string) => `/v1/integrators/${encodeURIComponent(name)}`;

  const group = connectionOptions(program.command('integrators').description('register integrators that each receive every CDR (docs/integrators.md)'));

  group
    .command('add <name>')
    .description('register an integrator; prints the Redis keys it reads')
    .option('--types <types>', 'comma-separated event types (default cdr.created)')
    .option('--legacy-list', 'also feed an own Redis List with the Enigma CDR messages (BRPOP)')
    .option('--stream', 'a consumer group on the stream (default unless --legacy-list)')
    .option('--no-stream', 'no consumer group (legacy list only)')
    .action(async (name: string, options: { types?: string; legacyList?: boolean; stream?: boolean }, command: Command) =>
      print(
        await callHub(connectionOf(command), 'POST', '/v1/integrators', {
          name,
          ...(options.types ? { types: options.types.split(',').map((type) => type.trim()).filter(Boolean) } : {}),
          ...(options.legacyList ? { legacyList: true } : {}),
          ...(options.stream === undefined ? {} : { stream: options.stream }),
        }),
      ),
    );

  group
    .command('list')
    .description('list integrators with their lag')
    .action(async (_options: unknown, command: Command) => print(await callHub(connectionOf(command), 'GET', '/v1/integrators')));

  group
    .command('show <name>')
    .description('one integrator: keys, pending, oldest pending age, dead letters, lost, list length')
    .action(async (name: string, _options: unknown, command: Command) => print(await callHub(connectionOf(command), 'GET', path(name))));

  group
    .command('remove <name>')
    .description('remove an integrator with its consumer group, list and dead letters')
    .action(async (name: string, _options: unknown, command: Command) => {
      await callHub(connectionOf(command), 'DELETE', path(name));
      out.write(`removed integrator ${name}\n`);
    });

  connectionOptions(program.command('replay <integrator>'))
    .description("re-read an integrator's CDRs since a time or a stream id (one JSON line each); its live group is not touched")
    .requiredOption('--since <time|duration|id>', 'ISO time (accepted at or after), how long ago (10m, 2h, 1d) or stream id (after it)')
    .option('--page <n>', 'events per request', (value: string) => Number.parseInt(value, 10), 1000)
    .action(async (integrator: string, options: { since: string; page: number }, command: Command) => {
      let since: string | null = sinceValue(options.since);
      while (since !== null) {
        const page = (await callHub(connectionOf(command), 'GET', `${path(integrator)}/replay?since=${encodeURIComponent(since)}&limit=${options.page}`)) as {
          items: unknown[];
          next: string | null;
        };
        for (const item of page.items) out.write(`${JSON.stringify(item)}\n`);
        since = page.next;
      }
    });
}
