import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { didYouMean } from '../src/validation.js';
import { postEvents, runCli, startHub, TEST_TOKEN } from './helpers/hub.js';
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

    it('?types= on /v1/stream names the closest type and family; nothing opens', async () => {
      const answer = await fetch(`${hub.url}/v1/stream?types=agent.status_change,cal.*,fax.received`, { headers: { authorization: `Bearer ${TEST_TOKEN}`, accept: 'text/event-stream' } });
      expect(answer.status).toBe(400);
      const { error } = (await answer.json()) as { error: { code: string; message: string; details: unknown[] } };
      expect(error.code).toBe('VALIDATION_FAILED');
      expect(error.details).toEqual([
        { path: '/types', message: 'unknown event type "agent.status_change" (did you mean "agent.status_changed"?)' },
        { path: '/types', message: 'no event type matches "cal.*" (did you mean "call.*"?)' },
        { path: '/types', message: 'unknown event type "fax.received"' },
      ]);
    });

    it('an integrator registered with a mistyped type is refused, naming the type; none is created', async () => {
      const register = (body: unknown) =>
        fetch(`${hub.url}/v1/integrators`, { method: 'POST', headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      const answer = await register({ name: 'crm', types: ['cdr.created', 'call.endd'] });
      expect(answer.status).toBe(400);
      const { error } = (await answer.json()) as { error: { message: string; details: unknown[] } };
      expect(error.message).toBe('unknown event types: call.endd (did you mean "call.ended"?)');
      expect(error.details).toEqual([{ path: '/types/1', message: 'not in the catalogue (GET /v1/schemas) (did you mean "call.ended"?)' }]);
      const listed = (await (await fetch(`${hub.url}/v1/integrators`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } })).json()) as unknown;
      expect(JSON.stringify(listed)).not.toContain('"crm"');
    });
  });
});
