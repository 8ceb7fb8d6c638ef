import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../src/config/load.js';
import type { AcceptedEvent } from '../src/events/catalogue.js';
import { EventLogWriter, type Acceptance } from '../src/log/event-log.js';
import { LogRetention } from '../src/log/retention.js';
import { EnigmaProfile } from '../src/profiles/enigma.js';
import { createRedisClient, type RedisClient } from '../src/redis/client.js';
import { createKeys } from '../src/redis/keys.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

const config = parseConfig({ keyPrefix: 'eventlog' });
const keys = createKeys(config);
const enigmaWriter = new EventLogWriter(keys, [new EnigmaProfile(keys, config.profiles.enigma)], config.eventLog);

function acceptance(id: string, token = `token-${id}`, writer = enigmaWriter): Acceptance {
  const event: AcceptedEvent = { id, type: 'agent.status_changed', time: '2026-11-21T10:00:00.000Z', data: { agent: '1002', status: 'available', ref: id } };
  return { ...writer.accept(event), token };
}

describe('the append script', () => {
  let redis: TestRedis;
  let client: RedisClient;
  let reader: Awaited<ReturnType<typeof connectClient>>;
  const writer = enigmaWriter;
  const fence = (previous: string, id: string) => ({ key: keys.writerFence('test-writer'), previous, id });
  const logIds = async () => ((await reader.xRange(keys.eventLog, '-', '+')) ?? []).map((entry) => entry.message.id);

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = createRedisClient({ url: redis.url });
    await client.connect();
    reader = await connectClient(redis.url);
  });
  afterAll(async () => {
    await client?.close();
    await reader?.quit();
    await redis?.close();
  });

  it('refuses a batch whose predecessor on the chain did not land, writing nothing', async () => {
    await expect(writer.append(client, [acceptance('a1')], fence('', '1'))).resolves.toHaveLength(1);
    await expect(writer.append(client, [acceptance('a2')], fence('1', '2'))).resolves.toHaveLength(1);
    // Batch 3 never reached Redis; batch 4 was pipelined behind it.
    await expect(writer.append(client, [acceptance('a4')], fence('3', '4'))).rejects.toThrow(/^FENCED/);
    expect(await logIds()).toEqual(['a1', 'a2']);
    expect(await reader.exists(keys.dedup('a4'))).toBe(0);
    // The writer starts a new chain once everything in flight has settled.
    await writer.append(client, [acceptance('a3'), acceptance('a4')], fence('', '5'));
    expect(await logIds()).toEqual(['a1', 'a2', 'a3', 'a4']);
  });

  it('skips an id seen in the window; re-publishes only for the same acceptance token', async () => {
    const messages: string[] = [];
    const subscriber = await connectClient(redis.url);
    await subscriber.subscribe('enigma:notifications:agents:1002', (message) => messages.push(JSON.parse(message).payload.ref));
    await writer.append(client, [acceptance('b1')], fence('', '10'));
    const resubmitted = await writer.append(client, [acceptance('b1', 'another-token')], fence('10', '11'));
    const replayed = await writer.append(client, [acceptance('b1')], fence('11', '12'));
    expect(resubmitted).toEqual([null]);
    expect(replayed).toEqual([null]);
    expect((await logIds()).filter((id) => id === 'b1')).toHaveLength(1);
    // A later append as a fence: its message follows every message the appends above published.
    await writer.append(client, [acceptance('b2')], fence('12', '13'));
    await waitFor(() => messages.includes('b2'), 20_000, 'the fence message');
    // First write, then the in-doubt replay with the same token; not the client's re-submission.
    expect(messages).toEqual(['b1', 'b1', 'b2']);
    await subscriber.quit();
  });

  it('releases the id when the log write fails, so the retry is not mistaken for a duplicate', async () => {
    const brokenKeys = { ...keys, eventLog: 'eventlog:{log}:not-a-stream' };
    await reader.set(brokenKeys.eventLog, 'a string, so XADD fails');
    const broken = new EventLogWriter(brokenKeys, [], config.eventLog);
    await expect(broken.append(client, [acceptance('c1', 'token-c1', broken)], fence('', '20'))).rejects.toThrow(/WRONGTYPE/);
    expect(await reader.exists(keys.dedup('c1'))).toBe(0);
    await reader.del(brokenKeys.eventLog);
    await expect(broken.append(client, [acceptance('c1', 'token-c1', broken)], fence('', '21'))).resolves.toEqual([expect.stringMatching(/^\d+-\d+$/)]);
  });
});

describe('event-log retention', () => {
  it('trims by age (whole stream nodes) and caps the length at append', async () => {
    const redis = await startRedis({ appendOnly: false });
    const client = createRedisClient({ url: redis.url });
    await client.connect();
    const capped = parseConfig({ keyPrefix: 'retention', eventLog: { maxLength: 1000, maxAgeMs: 60_000 } });
    const cappedKeys = createKeys(capped);
    const writer = new EventLogWriter(cappedKeys, [], capped.eventLog);
    const fence = { key: cappedKeys.writerFence('retention-test'), previous: '', id: '1' };
    const batch = (from: number) => Array.from({ length: 500 }, (_, i) => acceptance(`r-${from + i}`, undefined, writer));

    for (let from = 0; from < 3000; from += 500) {
      await writer.append(client, batch(from), fence);
      fence.previous = fence.id;
      fence.id = String(Number(fence.id) + 1);
    }
    const length = await client.xLen(cappedKeys.eventLog);
    // MAXLEN ~ keeps at least maxLength and trims whole nodes (100 entries each by default).
    expect(length).toBeGreaterThanOrEqual(1000);
    expect(length).toBeLessThanOrEqual(1100);

    const retention = new LogRetention(client, cappedKeys.eventLog, capped.eventLog, pino({ level: 'silent' }));
    expect(await retention.trim(Date.now() - 120_000)).toBe(0);
    const removed = await retention.trim(Date.now() + 120_000);
    retention.close();
    expect(removed).toBeGreaterThanOrEqual(length - 100);
    expect(await client.xLen(cappedKeys.eventLog)).toBeLessThanOrEqual(100);
    await client.close();
    await redis.close();
  });
});
