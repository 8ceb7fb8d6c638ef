import { loadConfig } from '../config/load.js';
import { createLogger, Hub } from '../hub.js';

export interface StartCommandOptions {
  config?: string;
}

/** `switchboard start`: runs the hub until SIGTERM/SIGINT, then drains and exits 0. */
export async function startCommand(options: StartCommandOptions, env: NodeJS.ProcessEnv): Promise<void> {
  const config = loadConfig({ file: options.config, env });
  const logger = createLogger(config);
  const hub = await Hub.start(config, { logger });
  logger.info({ url: hub.url, redis: hub.context.redisUrl, dataDir: config.dataDir }, 'switchboard is running');
  process.stderr.write(
    [
      '',
      `Switchboard is listening on ${hub.url} (API reference: ${hub.url}/docs)`,
      'Watch events flow, in another terminal:',
      `  npx switchboard tail 'enigma:notifications:*' --redis ${hub.context.redisUrl}`,
      'and drive sandbox traffic through the intake:',
      `  npx switchboard simulate --url ${hub.url}${config.auth.apiToken ? ' --token $SWITCHBOARD_API_TOKEN' : ''}`,
      '',
    ].join('\n'),
  );

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stop requested');
    hub.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
