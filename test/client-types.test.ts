import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { consumeCdrs } from '@switchboard/client';
import type { Hub } from '../src/hub.js';
import { startHub } from './helpers/hub.js';
import { api } from './helpers/integrators.js';
import { startRedis, tempDir, type TestRedis } from './helpers/redis.js';

const root = fileURLToPath(new URL('../', import.meta.url));
const run = promisify(execFile);

/**
 * An integrator's project outside this repository: `@switchboard/client` installed (the built
 * package, linked as npm links a workspace), strict TypeScript. `check` runs `tsc --noEmit` on one
 * consumer file and returns its exit code and diagnostics.
 */
function consumerProject(): { check: (source: string) => Promise<{ code: number; output: string }> } {
  const dir = tempDir('switchboard-consumer-');
  mkdirSync(join(dir, 'node_modules', '@switchboard'), { recursive: true });
  symlinkSync(join(root, 'packages', 'client'), join(dir, 'node_modules', '@switchboard', 'client'), 'dir');
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'crm-consumer', private: true, type: 'module' }));
  writeFileSync(
    join(dir, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules', '@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  return {
    async check(source) {
      writeFileSync(join(dir, 'consumer.ts'), source);
      try {
        const { stdout } = await run(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: dir, timeout: 90_000 });
        return { code: 0, output: stdout };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string };
        return { code: failed.code ?? -1, output: failed.stdout ?? '' };
      }
    },
  };
}

/** Written as an integrator would, from packages/client/README.md. */
const CORRECT = `import { consumeCdrs, HubClient, type CatalogueEvent, type EventData } from '@switchboard/client';

const hub = new HubClient({ url: 'http://127.0.0.1:8080', token: 'a-token-with-the-ingest-role' });
await hub.sendEvents([
  { type: 'agent.status_changed', data: { agent: '1002', status: 'available' } },
  { type: 'cdr.created', data: { call_id: 'c1', number: '+27215550100', direction: 'outbound', dialed_at: '2026-11-21T10:00:00Z', disposition: 'answered', agent: null } },
]);

const numbers: string[] = [];
await consumeCdrs({
  url: 'redis://127.0.0.1:6379',
  integrator: 'crm-a',
  consumer: 'worker-1',
  handler(cdr) {
    const number: string = cdr.event.data.number;
    const talk: number | undefined = cdr.event.data.talk_s;
    numbers.push(number, String(talk));
  },
});

await consumeCdrs({
  url: 'redis://127.0.0.1:6379',
  integrator: 'desk',
  consumer: 'worker-1',
  types: ['cdr.created', 'call.connected'],
  handler(cdr) {
    if (cdr.type === 'call.connected') numbers.push(cdr.event.data.agent);
    else numbers.push(cdr.event.data.disposition);
  },
});

const connected: EventData<'call.connected'> = { call_id: 'c1', agent: '1002', wait_s: 4 };
const logged: CatalogueEvent<'agent.status_changed'> = { id: 'e1', type: 'agent.status_changed', time: '2026-11-21T10:00:00Z', data: { agent: '1002', status: 'busy' } };
numbers.push(connected.agent, logged.data.status);
`;

/** The same project with the mistakes a typed client must catch: each line is a compile error. */
const MISTAKES = `import { consumeCdrs, HubClient } from '@switchboard/client';

const hub = new HubClient({ url: 'http://127.0.0.1:8080' });
await hub.sendEvents([{ type: 'agent.status_changed', data: { agent: '1002', status: 'availabel' } }]);
await hub.sendEvents([{ type: 'agent.status_changed', data: { agnet: '1002', status: 'available' } }]);
await hub.sendEvents({ type: 'cti.data_stored', data: { pool: 'p', dnis: '1', ani: '2', size_bytes: 3 } });
await consumeCdrs({
  url: 'redis://127.0.0.1:6379', integrator: 'desk', consumer: 'worker-1', types: ['cdr.created', 'call.connected'],
  handler(cdr) {
    const disposition: string = cdr.event.data.disposition;
    void disposition;
  },
});
`;

describe('@switchboard/client types come from the catalogue schemas (a consumer compiled with tsc)', () => {
  const project = consumerProject();

  it('a correct consumer compiles: cdr.event.data.number is a string, cdr.type narrows data', async () => {
    const { code, output } = await project.check(CORRECT);
    expect(output).toBe('');
    expect(code).toBe(0);
  });

  it('a typo in a value or a field, a hub-only type, and an unnarrowed field fail to compile, each where it is', async () => {
    const { code, output } = await project.check(MISTAKES);
    expect(code).toBe(2);
    // The first diagnostic of each line (a wrong type also fails its data against the type tsc tried).
    const byLine = new Map<string, string>();
    for (const line of output.split('\n')) {
      const at = /^consumer\.ts\((\d+),\d+\): (error TS\d+: .*)$/.exec(line);
      if (at && !byLine.has(at[1] as string)) byLine.set(at[1] as string, at[2] as string);
    }
    expect([...byLine.keys()]).toEqual(['4', '5', '6', '10']);
    expect(byLine.get('4')).toBe(
      `error TS2820: Type '"availabel"' is not assignable to type '"logging_in" | "available" | "busy" | "wrapup" | "not_ready" | "on_break" | "logging_out" | "offline"'. Did you mean '"available"'?`,
    );
    expect(byLine.get('5')).toMatch(/^error TS2353: Object literal may only specify known properties, and 'agnet' does not exist in type/);
    expect(byLine.get('6')).toMatch(/^error TS2322: Type '"cti\.data_stored"' is not assignable to type/);
    expect(byLine.get('10')).toMatch(/^error TS2339: Property 'disposition' does not exist on type/);
  });
});

describe('consumeCdrs checks its types against the registration', () => {
  let redis: TestRedis;
  let hub: Hub;

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    hub = await startHub(redis.url, { keyPrefix: 'sbtypes' });
  });
  afterAll(async () => {
    await hub?.close();
    await redis?.close();
  });

  it('an integrator registered for more types than the handler is typed for is refused before reading anything', async () => {
    expect((await api(hub.url, 'POST', '/v1/integrators', { name: 'desk', types: ['cdr.created', 'call.connected'] })).status).toBe(201);
    const handled: string[] = [];
    await expect(
      consumeCdrs({ url: redis.url, keyPrefix: 'sbtypes', integrator: 'desk', consumer: 'd1', handler: (cdr) => void handled.push(cdr.id) }),
    ).rejects.toThrow(`integrator "desk" is registered for call.connected as well: pass types: ['cdr.created', 'call.connected'] so the handler is typed for every type it receives`);
    expect(handled).toEqual([]);
  });
});
