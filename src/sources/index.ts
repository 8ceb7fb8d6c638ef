import type { Config } from '../config/schema.js';
import type { ComponentFactory, HubComponent } from '../context.js';
import { ConfigError } from '../errors.js';
import { AsteriskSource } from './asterisk/source.js';
import { FreeswitchSource } from './freeswitch/source.js';
import { createSourceMetrics } from './metrics.js';
import type { PbxSource, SourceDependencies } from './source.js';

/**
 * PBX sources (docs/sources.md): one connection per configured PBX, each appending through the
 * hub's one door for the events it makes (src/log/hub-events.ts), with intake's check. Sources
 * connect in the background: the hub starts, and stays ready, whatever state the PBXs are in.
 */
export const sourcesComponent: ComponentFactory = (context): HubComponent => {
  const { config, logger, metrics, hubEvents } = context;
  const names = new Set<string>();
  for (const source of config.sources) {
    if (names.has(source.name)) throw new ConfigError(`sources: two sources are named "${source.name}"`);
    names.add(source.name);
  }
  const sourceMetrics = createSourceMetrics(metrics.registry);
  const deps = { hubEvents, metrics: sourceMetrics, logger };
  const sources: PbxSource[] = config.sources.map((source) => createSource(source, deps));
  return {
    name: 'sources',
    start() {
      for (const source of sources) source.start();
    },
    ...(sources.length === 0 ? {} : { readiness: async () => {
      const reports = sources.map((source) => source.readiness());
      const down = reports.filter((report) => report.warning);
      return {
        name: 'sources',
        ok: true,
        connected: reports.length - down.length,
        sources: reports,
        ...(down.length > 0 ? { warning: down.map((report) => report.warning).join('; ') } : {}),
      };
    } }),
    // Sources stop before the hub drains its appender, so nothing they read is left unappended.
    async stopInput() {
      await Promise.all(sources.map((source) => source.close()));
    },
    async close() {
      await Promise.all(sources.map((source) => source.close()));
    },
  };
};

/** The source a `sources[]` entry configures (the hub's, and `switchboard pbx record`'s). */
export function createSource(source: Config['sources'][number], deps: SourceDependencies): PbxSource {
  return source.type === 'freeswitch'
    ? new FreeswitchSource(
        {
          ...source,
          detectSequenceGaps: source.detectSequenceGaps ?? source.events.some((event) => event.toUpperCase() === 'ALL'),
        },
        deps,
      )
    : new AsteriskSource(source, deps);
}
