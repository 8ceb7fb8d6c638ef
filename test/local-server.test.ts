import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalRedisServer } from '../src/redis/local-server.js';
import { connectClient, freePort, tempDir } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

describe('LocalRedisServer.close()', () => {
  it('stops a redis-server that refused the first SIGTERM while it wrote its first AOF', async () => {
    const dir = tempDir('switchboard-close-');
    const logFile = join(dir, 'redis.log');
    const server = await LocalRedisServer.start({ port: await freePort(), dir, appendOnly: false, extraArgs: ['--logfile', logFile, '--loglevel', 'notice'] });
    const client = await connectClient(server.url);
    try {
      await client.eval("for i = 1, 2000 do redis.call('SET', 'key:' .. i, i) end", { keys: [] });
      // 1 ms per key makes the first AOF take about 2 s: the state a replica is in after its
      // first full sync, and in which redis-server answers SIGTERM with "can't exit".
      await client.configSet('rdb-key-save-delay', '1000');
      await client.configSet('appendonly', 'yes');
      await waitFor(async () => /aof_rewrite_in_progress:1/.test(await client.info('persistence')), 10_000, 'the first AOF to be under way');
    } finally {
      client.destroy();
    }

    await server.close();

    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/Writing initial AOF, can't exit\./);
    expect(log).toMatch(/ready to exit, bye bye/);
    expect(server.running).toBe(false);
  });
});
