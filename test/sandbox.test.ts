import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCommand } from '../src/cli/simulate.js';
import type { Hub } from '../src/hub.js';
import { validateBatch } from '../src/intake/validate.js';
import { SandboxDialler, type SandboxEvent } from '../src/sandbox/dialler.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';

function run(steps: number, seed = 7): SandboxEvent[] {
  // A clock of its own (50 ms per reading), so two runs with one seed match also on a loaded machine.
  let ticks = 0;
  const now = () => new Date(Date.UTC(2026, 10, 21, 10) + 50 * ticks++);
  const dialler = new SandboxDialler({ agents: 5, campaigns: 2, seed, now });
  const events: SandboxEvent[] = [];
  for (let i = 0; i < steps; i += 1) events.push(...dialler.next());
  return [...events, ...dialler.finish()];
}

describe('sandbox dialler', () => {
  const events = run(3000);
  const cdrs = events.filter((event) => event.type === 'cdr.created').map((event) => event.data);

  it('produces only events the intake accepts', () => {
    expect(() => validateBatch(events, events.length)).not.toThrow();
  });

  it('is deterministic for a seed', () => {
    expect(JSON.stringify(run(200, 3))).toBe(JSON.stringify(run(200, 3)));
    expect(JSON.stringify(run(200, 3))).not.toBe(JSON.stringify(run(200, 4)));
  });

  it('tries a callee\'s numbers in order, one CDR each, and skips the rest once one connects', () => {
    const previews = events.filter((event) => event.type === 'campaign.dial_preview');
    expect(previews.length).toBeGreaterThan(0);
    const byContact = new Map<string, Record<string, unknown>[]>();
    for (const cdr of cdrs) byContact.set(cdr.contact_ref as string, [...(byContact.get(cdr.contact_ref as string) ?? []), cdr]);
    let multiNumber = 0;
    for (const attempts of byContact.values()) {
      const numbers = attempts.map((attempt) => attempt.number);
      expect(new Set(numbers).size).toBe(numbers.length);
      const connected = attempts.findIndex((attempt) => ['callee_hungup', 'agent_hungup', 'machine', 'abandoned'].includes(attempt.disposition as string));
      if (connected >= 0) expect(connected).toBe(attempts.length - 1);
      if (attempts.length > 1) multiNumber += 1;
    }
    expect(multiNumber).toBeGreaterThan(10);
  });

  it('offers and connects answered calls to an agent, and leaves the agent null for callers who hang up in queue', () => {
    const abandoned = cdrs.filter((cdr) => cdr.disposition === 'abandoned');
    expect(abandoned.length).toBeGreaterThan(0);
    expect(abandoned.every((cdr) => cdr.agent === null)).toBe(true);
    for (const cdr of abandoned) {
      const lifecycle = events.filter((event) => event.data.call_id === cdr.call_id).map((event) => event.type);
      expect(lifecycle).toEqual(['call.queued', 'call.abandoned', 'cdr.created']);
    }
    const talked = cdrs.filter((cdr) => cdr.disposition === 'callee_hungup' || cdr.disposition === 'agent_hungup');
    expect(talked.length).toBeGreaterThan(0);
    for (const cdr of talked) {
      const index = events.findIndex((event) => event.type === 'cdr.created' && event.data.call_id === cdr.call_id);
      const before = events.slice(0, index).filter((event) => event.data.call_id === cdr.call_id).map((event) => event.type);
      expect(before).toEqual(['call.queued', 'call.offered', 'call.connected', 'call.ended']);
      expect(cdr).toMatchObject({ q850_cause: 16, sip_code: 200, agent: expect.any(String) });
    }
    const unanswered = cdrs.filter((cdr) => cdr.disposition === 'busy');
    expect(unanswered.every((cdr) => cdr.q850_cause === 17 && cdr.sip_code === 486)).toBe(true);
  });

  it('cycles agents through statuses and ends the shift logged out', () => {
    const statuses = new Set(events.filter((event) => event.type === 'agent.status_changed').map((event) => event.data.status));
    expect([...statuses]).toEqual(expect.arrayContaining(['logging_in', 'available', 'busy', 'wrapup', 'logging_out', 'offline']));
    const campaignStatuses = events.filter((event) => event.type === 'campaign.status_changed').map((event) => event.data.status);
    expect(campaignStatuses.slice(0, 2)).toEqual(['started', 'started']);
    expect(campaignStatuses.slice(-2)).toEqual(['stopping', 'completed']);
  });
});

describe('switchboard simulate', () => {
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

  it('drives traffic through the intake and prints a summary that matches the log', async () => {
    const out = new PassThrough();
    let printed = '';
    out.on('data', (chunk: Buffer) => (printed += chunk.toString()));
    const summary = await simulateCommand(
      { url: hub.url, token: TEST_TOKEN, rate: 300, agents: 8, campaigns: 2, durationS: 1, maxBatch: 50, seed: 1 },
      out,
    );
    // Counts and order, not a rate: how many events fit in a second depends on the machine's load.
    expect(summary.rejected.size).toBe(0);
    expect(summary.accepted).toBeGreaterThan(0);
    expect([...summary.byType.values()].reduce((sum, count) => sum + count, 0)).toBe(summary.accepted);
    const client = await connectClient(redis.url);
    const log = (await client.xRange(hub.context.keys.eventLog, '-', '+')) ?? [];
    await client.quit();
    expect(log).toHaveLength(summary.accepted);
    const types = log.map((entry) => entry.message.type);
    for (const [type, count] of summary.byType) expect(types.filter((logged) => logged === type)).toHaveLength(count);
    // The dialler's shift, in acceptance order: campaigns start first, complete last; agents log out at the end.
    const campaignStatuses = log
      .filter((entry) => entry.message.type === 'campaign.status_changed')
      .map((entry) => (JSON.parse(entry.message.event ?? '{}') as { data: { status: string } }).data.status);
    expect(campaignStatuses.slice(0, 2)).toEqual(['started', 'started']);
    expect(campaignStatuses.slice(-2)).toEqual(['stopping', 'completed']);
    expect(types.at(-1)).toBe('agent.status_changed');
    expect(printed).toMatch(new RegExp(`summary: ${summary.accepted} events accepted`));
    expect(printed).toContain('CDRs by disposition:');
  });
});
