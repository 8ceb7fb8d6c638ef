import { Option, type Command } from 'commander';
import { Registry } from 'prom-client';
import { loadConfig } from '../config/load.js';
import { ConfigError } from '../errors.js';
import { createLogger } from '../hub.js';
import { parseDurationMs } from './durations.js';
import { createSource } from '../sources/index.js';
import { createSourceMetrics } from '../sources/metrics.js';
import { SessionPlayer, type PlaybackSpeed } from '../sources/playback.js';
import { readRecording, SessionRecorder } from '../sources/recording.js';
import { HubEvents } from '../log/hub-events.js';

/*
 * `switchboard pbx record` and `switchboard pbx play` (docs/sources.md, "Recording and replaying
 * a PBX session"): an operator records the session that shows a mapping problem, and a test or a
 * maintainer plays it into a hub.
 */

export interface PbxRecordOptions {
  config?: string;
  out: string;
  durationMs: number;
}

/** Records the named source's PBX session until `durationMs` passes or `stop` aborts; resolves once the file is flushed. */
export async function pbxRecordCommand(sourceName: string, options: PbxRecordOptions, env: NodeJS.ProcessEnv, stop: AbortSignal): Promise<void> {
  const config = loadConfig({ file: options.config, env });
  const sourceConfig = config.sources.find((source) => source.name === sourceName);
  if (!sourceConfig) {
    const names = config.sources.map((source) => source.name);
    throw new ConfigError(`sources: no source named "${sourceName}"${names.length ? ` (the config has ${names.join(', ')})` : ' (the config has none)'}`);
  }
  const logger = createLogger(config);
  const secret = sourceConfig.type === 'asterisk' ? sourceConfig.secret : sourceConfig.password;
  const recorder = new SessionRecorder(options.out, sourceConfig.type, sourceConfig.name, [secret]);
  // The source runs as the hub runs it (login, resync, mapping), but what it maps goes nowhere.
  const source = createSource(sourceConfig, {
    hubEvents: new HubEvents({ append: async () => ({ duplicates: 0, spooled: false }) }),
    metrics: createSourceMetrics(new Registry()),
    logger,
    tap: recorder,
  });
  source.start();
  logger.info({ source: sourceName, out: options.out, durationMs: options.durationMs }, 'recording the PBX session');
  await new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, options.durationMs);
    stop.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
    if (stop.aborted) resolve();
  });
  recorder.stop();
  await source.close();
  await recorder.close();
  logger.info({ out: options.out, ...recorder.counts }, 'recording written');
}

export interface PbxPlayOptions {
  port: number;
  speed: PlaybackSpeed;
  logLevel: string;
}

/** Serves a recording on 127.0.0.1 until `stop` aborts. */
export async function pbxPlayCommand(file: string, options: PbxPlayOptions, stop: AbortSignal): Promise<void> {
  const recording = readRecording(file);
  const logger = createLogger({ logLevel: options.logLevel });
  const player = await SessionPlayer.start(recording, { port: options.port, speed: options.speed, logger });
  logger.info(
    { file, kind: recording.header.kind, source: recording.header.source, port: player.port, connections: player.connections, speed: options.speed },
    'playing a PBX recording',
  );
  void player.finished().then(() => logger.info('every recorded connection has been played'));
  await new Promise<void>((resolve) => {
    stop.addEventListener('abort', () => resolve());
    if (stop.aborted) resolve();
  });
  await player.close();
}

/** `1` (the recorded spacing), any positive factor, or `max`. */
export function parseSpeed(value: string): PlaybackSpeed {
  if (value === 'max') return 'max';
  const factor = Number(value);
  if (!Number.isFinite(factor) || factor <= 0) throw new ConfigError(`--speed: expected 1, a positive factor or max, got "${value}"`);
  return factor;
}

/** Stops on the first SIGINT or SIGTERM. */
function signalled(): AbortSignal {
  const stop = new AbortController();
  process.once('SIGINT', () => stop.abort());
  process.once('SIGTERM', () => stop.abort());
  return stop.signal;
}

/** `env` is for `pbx record`, which loads the hub's config as `start` does; `logLevel` is the hub's (SWITCHBOARD_LOG_LEVEL). */
export function registerPbxCommands(program: Command, env: NodeJS.ProcessEnv, logLevel: string): void {
  const pbx = program.command('pbx').description('record a PBX session, or play one back as the PBX');
  pbx
    .command('record <source>')
    .description("record the named source's PBX session (as the hub connects to it) to a file, credentials left out")
    .requiredOption('--out <file>', 'the recording to write (JSON lines)')
    .option('-c, --config <file>', 'the hub\'s YAML or JSON config file (also SWITCHBOARD_CONFIG)')
    .option('--duration <duration>', 'how long to record (90s, 10m, 1h); SIGINT or SIGTERM stops sooner', '10m')
    .action((source: string, options: { out: string; config?: string; duration: string }) =>
      pbxRecordCommand(source, { out: options.out, durationMs: parseDurationMs(options.duration), ...(options.config ? { config: options.config } : {}) }, env, signalled()),
    );
  pbx
    .command('play <file>')
    .description('serve a recording on 127.0.0.1 as the Asterisk or FreeSWITCH it came from, until SIGINT or SIGTERM')
    .requiredOption('--port <port>', 'TCP port to listen on (point the source\'s port here)', (value: string) => {
      const port = Number(value);
      if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: expected a TCP port, got "${value}"`);
      return port;
    })
    .option('--speed <speed>', '1: the recorded spacing; a factor (2: twice as fast); max: as fast as the hub reads', '1')
    .addOption(
      new Option('--log-level <level>', 'info logs each connection played')
        .choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
        .default(logLevel),
    )
    .action((file: string, options: { port: number; speed: string; logLevel: string }) =>
      pbxPlayCommand(file, { port: options.port, speed: parseSpeed(options.speed), logLevel: options.logLevel }, signalled()),
    );
}
