import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { didYouMean } from '../src/validation.js';
import { postEvents, runCli, startHub } from './helpers/hub.js';
import { startRedis, tempDir, type TestRedis } from './helpers/redis.js';

describe('did you mean', () => {
  it('names the closest known name for a typo, and nothing for a name unlike any', () => {
    expect(didYouMean('webhook', ['http', 'webhooks', 'redis'])).toBe(' (did you mean "webhooks"?)');
    expect(didYouMean('agent.status_change', ['agent.status_changed', 'campaign.status_changed'])).toBe(' (did you mean "agent.status_changed"?)');
    expect(didYouMean('maxbytez', ['maxBytes', 'dir'])).toBe(' (did you mean "maxBytes"?)');
    expect(didYouMean('agnet', ['agent', 'queue'])).toBe(' (did you mean "agent"?)');
    expect(didYouMean('colour', ['agent', 'queue'])).toBe('');
    expect(didYouMean('http', ['http'])).toBe('');
  });

  it('a config file with `webhook:` fails to start, naming webhooks', async () => {
    const file = join(tempDir(), 'switchboard.yaml');
    writeFileSync(file, 'http:\n  port: 0\nwebhook:\n  allowPrivateTargets: true\nspool:\n  maxBytez: 1\n');
    const { code, output } = await runCli(['start', '--config', file], {});
    expect(code).toBe(1);
    expect(output).toMatch(/CONFIG_INVALID: .*webhook: unknown key \(did you mean "webhooks"\?\)/);
    expect(output).toMatch(/spool\.maxBytez: unknown key \(did you mean "maxBytes"\?\)/);
  });

  describe('at the intake', () => {
    let redis: TestRedis;
    let hub: Hub;
    beforeAll(async () => {
      redis = await startRedis({ appendOnly: false });
      hub = await startHub(redis.url);
    });
    afterAll(async () => {
      await hub?.close();
      await redis?.close();
    });

    it('an event of type agent.status_change is refused, naming agent.status_changed', async () => {
      const answer = await postEvents(hub.url, [
        { type: 'agent.status_change', data: { agent: '1001', status: 'available' } },
        { type: 'fax.received', data: {} },
      ]);
      expect(answer.status).toBe(400);
      expect((answer.body.error as { details: unknown[] }).details).toEqual([
        { index: 0, path: '/type', message: 'unknown event type "agent.status_change" (did you mean "agent.status_changed"?)' },
        { index: 1, path: '/type', message: 'unknown event type "fax.received"' },
      ]);
    });
  });
});
