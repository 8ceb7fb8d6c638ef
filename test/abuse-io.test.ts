import { afterEach, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { postEvents, startHub } from './helpers/hub.js';
import { connectClient, startRedis, tempDir, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/**
 * Hostile volume against the hub's buffers (docs/security.md): slow stream readers, a PBX's huge
 * resync or reconnect storm, a spool that grew past its limit. CI-sized; `npm run bench -- abuse`
 * runs the full sizes.
 */

async function logIds(url: string, key: string): Promise<string[]> {
  const client = await connectClient(url);
  const entries = await client.xRange(key, '-', '+');
  await client.quit();
  return (entries ?? []).map((entry) => entry.message.id as string);
}

/** An event of about 4 KB. */
function padded(id: string) {
  return { id, type: 'agent.status_changed', data: { agent: '1002', status: 'available', custom: { padding: 'x'.repeat(4000) } } };
}

describe('a spool that grew past spool.maxBytes', () => {
  let redis: TestRedis | undefined;
  let hub: Hub | undefined;
  afterEach(async () => {
    await hub?.close();
    await redis?.close();
    hub = undefined;
  });

  it('applies the limit at once on a hub started over it: 503 SPOOL_FULL while it drains, nothing spooled is lost', async () => {
    redis = await startRedis();
    const dataDir = tempDir('switchboard-data-');
    hub = await startHub(redis.url, { dataDir, spool: { maxBytes: 64 * 1024 * 1024 } });
    await redis.stop();
    // About 1.8 MB spooled under a 64 MB limit.
    const ids = Array.from({ length: 450 }, (_, i) => `grown-${String(i).padStart(4, '0')}`);
    for (let start = 0; start < ids.length; start += 50) {
      const response = await postEvents(hub.url, ids.slice(start, start + 50).map(padded));
      expect(response.status).toBe(202);
    }
    expect(hub.context.appender.spoolDepth).toBe(450);
    await hub.close();

    // The same spool under a 150 kB limit, Redis still away: nothing more is taken, nothing is dropped.
    hub = await startHub(redis.url, { dataDir, spool: { maxBytes: 150_000 } });
    expect(hub.context.appender.spoolDepth).toBe(450);
    const refused = await postEvents(hub.url, [padded('late-0')]);
    expect(refused.status).toBe(503);
    expect(refused.body.error).toMatchObject({ code: 'SPOOL_FULL' });
    expect(hub.context.appender.spoolDepth).toBe(450);

    await redis.start();
    await waitFor(() => hub!.context.appender.spoolDepth === 0, 30_000, 'the grown spool to drain');
    expect(await logIds(redis.url, hub.context.keys.eventLog)).toEqual(ids);
    // Drained, the spool takes writes again within its limit.
    await redis.stop();
    const accepted = await postEvents(hub.url, [padded('late-1'), padded('late-2')]);
    expect(accepted.status).toBe(202);
    expect(hub.context.appender.spoolDepth).toBe(2);
    let refusedAt = 0;
    for (let i = 3; i < 200 && refusedAt === 0; i += 1) if ((await postEvents(hub.url, [padded(`late-${i}`)])).status === 503) refusedAt = i;
    // 150 kB of 4 kB events, the WAL included: fewer than 37 fit.
    expect(refusedAt).toBeGreaterThan(3);
    expect(hub.context.appender.spoolDepth).toBeLessThan(37);
  });
});
