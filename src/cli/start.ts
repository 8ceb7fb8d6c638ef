import { basename, relative } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig } from '../config/load.js';
import { createLogger, Hub } from '../hub.js';
import { describeTopology, type RedisTopology } from '../redis/client.js';

export interface StartCommandOptions {
  config?: string;
}

/** `switchboard start`: runs the hub until SIGTERM/SIGINT, then drains and exits 0. */
export async function startCommand(options: StartCommandOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ file: options.config, env });
  const logger = createLogger(config);
  // Signals are handled from the first moment: one during the start stops the hub once it is up.
  let requested: string | undefined;
  let hub: Hub | undefined = undefined;
  const stop = (signal: string) => {
    if (requested !== undefined) return;
    requested = signal;
    logger.info({ signal }, 'stop requested');
    if (hub) shutdown(hub, logger);
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
  // SIGHUP re-reads the certificate (a renewal) only when the hub serves HTTPS; otherwise it ends
  // the process as it always did. One arriving during the start changes nothing: the start reads the files.
  if (config.http.tls) process.on('SIGHUP', () => reloadCertificate(hub, logger));

  hub = await Hub.start(config, { logger });
  if (requested !== undefined) {
    shutdown(hub, logger);
    return;
  }
  logger.info({ url: hub.url, redis: describeTopology(hub.context.redisTopology), dataDir: config.dataDir }, 'switchboard is running');
  const cli = commandName(process.argv[1] ?? 'switchboard');
  process.stderr.write(
    [
      '',
      `Switchboard is listening on ${hub.url} (API reference: ${hub.url}/docs)`,
      'Watch events flow, in another terminal:',
      `  ${cli} tail 'enigma:notifications:*' ${tailRedisOptions(hub.context.redisTopology)}`,
      'and drive sandbox traffic through the intake:',
      `  ${cli} simulate --url ${hub.url}${tokenOption(hub, env)}`,
      '',
    ].join('\n'),
  );
}

/** Serves the renewed certificate to new connections; a bad file is logged and the current one stays. */
function reloadCertificate(hub: Hub | undefined, logger: Logger): void {
  if (!hub) return;
  try {
    const { subject, validTo } = hub.reloadCertificate();
    logger.info({ subject, validTo }, 'TLS certificate reloaded');
  } catch (error) {
    logger.error({ err: error }, `TLS certificate not reloaded, the previous one is still served: ${(error as Error).message}`);
  }
}

/** Drains and closes the hub, then exits: 0 when everything closed, 1 when something failed. */
function shutdown(hub: Hub, logger: Logger): void {
  hub.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

/** `--token …` for the banner's commands when the API needs one: the environment variable if it holds the token, else a placeholder. */
function tokenOption(hub: Hub, env: NodeJS.ProcessEnv): string {
  if (hub.context.tokens.open) return '';
  return env.SWITCHBOARD_API_TOKEN ? ' --token "$SWITCHBOARD_API_TOKEN"' : ' --token <a token with the ingest role>';
}

/** How the user can run this CLI again: `switchboard` when installed, else the script's path from here (absolute from outside the checkout). */
function commandName(script: string): string {
  if (basename(script) === 'switchboard') return 'switchboard';
  const path = relative(process.cwd(), script);
  if (path.startsWith('..') || path.startsWith('/')) return script;
  return `./${path}`;
}

/** The tail options that reach the hub's Redis (passwords left out). */
function tailRedisOptions(topology: RedisTopology): string {
  const list = (nodes: { host: string; port: number }[]) => nodes.map((node) => `${node.host}:${node.port}`).join(',');
  if (topology.kind === 'sentinel') return `--sentinels ${list(topology.sentinels)} --sentinel-name ${topology.name}`;
  if (topology.kind === 'cluster') return `--cluster-nodes ${list(topology.nodes)}`;
  return `--redis ${describeTopology(topology)}`;
}
