import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hub } from '../src/hub.js';
import { eventLogKey } from '../src/redis/keys.js';
import { AMI_SECRET, AMI_USER, AmiDriver, RealAsterisk } from './helpers/asterisk.js';
import { startHub, TEST_TOKEN } from './helpers/hub.js';
import { connectClient, startRedis, type TestRedis } from './helpers/redis.js';
import { waitFor } from './helpers/wait.js';

/*
 * Agent activity and queue figures against a real Asterisk 22 (test/helpers/asterisk.ts): a
 * member that never answers rings and misses the call, the next one takes it; a queue with
 * wrapuptime puts its agent in after-call work for that long; a caller gives up. The oracle for
 * the queue figures is Asterisk's own QueueStatus.
 */

interface LoggedEvent {
  type: string;
  time: string;
  data: Record<string, unknown>;
}

interface LiveAgent {
  agent: string;
  activity: string;
  activity_since: string;
  today: { handled: number; missed: number; acw_s: number };
}

interface LiveQueue {
  queue: string;
  answered: number;
  abandoned: number;
  abandon_rate_pct: number | null;
  asa_s: number | null;
  average_talk_s: number | null;
}

const WRAPUP_S = 3;

type Client = Awaited<ReturnType<typeof connectClient>>;

describe('agent activity and queue figures from a real Asterisk 22', () => {
  let redis: TestRedis;
  let client: Client;
  let asterisk: RealAsterisk;
  let ami: AmiDriver;
  let hub: Hub;
  const keyPrefix = 'astactivity';

  beforeAll(async () => {
    redis = await startRedis({ appendOnly: false });
    client = await connectClient(redis.url);
    asterisk = await RealAsterisk.start({
      queues: {
        // nora (never answers) is rung first, for the queue's 4 s timeout, then ben.
        ring: { strategy: 'linear' },
        wrap: { wrapuptime: WRAPUP_S },
        gone: {},
      },
    });
    ami = await AmiDriver.connect(asterisk.amiPort);
    hub = await startHub(redis.url, {
      keyPrefix,
      sources: [{ type: 'asterisk', name: 'pbx', host: '127.0.0.1', port: asterisk.amiPort, username: AMI_USER, secret: AMI_SECRET, reconnectInitialMs: 100, reconnectMaxMs: 1000, cdrSettleMs: 300 }],
      live: { serviceLevelThresholdMs: 5000, shortAbandonMs: 0 },
    });
    await waitFor(async () => (await log()).some((event) => event.type === 'source.resynced'), 30_000, 'the first resync');
  }, 20 * 60_000);
  afterAll(async () => {
    await hub?.close();
    await ami?.close();
    await asterisk?.close();
    await client?.quit();
    await redis?.close();
  });

  async function log(): Promise<LoggedEvent[]> {
    const entries = await client.xRange(eventLogKey(keyPrefix), '-', '+');
    return (entries ?? []).map((entry) => JSON.parse(entry.message.event!) as LoggedEvent);
  }

  async function live<T>(path: string): Promise<T> {
    const response = await fetch(`${hub.url}${path}`, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
    expect(response.status).toBe(200);
    return (await response.json()) as T;
  }
  const agent = async (name: string) => (await live<{ agents: LiveAgent[] }>('/v1/live/agents')).agents.find((entry) => entry.agent === name);
  const queue = async (name: string) => (await live<{ queues: LiveQueue[] }>('/v1/live/queues')).queues.find((entry) => entry.queue === name);

  async function addMember(queueName: string, extension: string, name: string): Promise<void> {
    const { response } = await ami.action({ Action: 'QueueAdd', Queue: queueName, Interface: `Local/${extension}@agents`, MemberName: name });
    expect(response.headers.Response).toBe('Success');
  }

  /**
   * Polls the live agent until `activity` shows; returns how long after the AMI event it showed
   * (the event's Timestamp, Asterisk's clock on this machine).
   */
  async function activityShown(name: string, activity: string, event: () => { headers: Record<string, string> } | undefined): Promise<number> {
    let seenMs = 0;
    await waitFor(
      async () => {
        const found = (await agent(name))?.activity === activity;
        seenMs = Date.now();
        return found;
      },
      30_000,
      `${name} ${activity}`,
    );
    await waitFor(() => event() !== undefined, 10_000, `the AMI event behind ${name} ${activity}`);
    return seenMs - Number(event()!.headers.Timestamp) * 1000;
  }

  /**
   * app_queue's average (recalc_holdtime, update_queue): the first call's value, then the
   * exponential (3 × old + new) / 4, in whole seconds.
   */
  const asteriskAverage = (values: number[]) => values.reduce((average, value, index) => (index === 0 ? value : (average * 3 + value) >> 2), 0);

  it('a member that never answers rings, then misses the call; the next one rings and takes it', async () => {
    await addMember('ring', '9101', 'nora');
    await addMember('ring', '1102', 'ben');
    const callId = await ami.originate('ring', '5552101', 20);
    const called = () => ami.events.find((event) => event.headers.Event === 'AgentCalled' && event.headers.Linkedid === callId && event.headers.MemberName === 'nora');
    const ringingAfterMs = await activityShown('nora', 'ringing', called);
    expect(ringingAfterMs).toBeLessThan(1000);
    const noAnswer = () => ami.events.find((event) => event.headers.Event === 'AgentRingNoAnswer' && event.headers.MemberName === 'nora');
    const missedAfterMs = await activityShown('nora', 'available', noAnswer);
    expect(missedAfterMs).toBeLessThan(1000);
    expect((await agent('nora'))?.today).toMatchObject({ handled: 0, missed: 1 });
    const missed = (await log()).filter((event) => event.type === 'call.missed');
    expect(missed).toHaveLength(1);
    expect(missed[0]!.data).toMatchObject({ call_id: callId, queue: 'ring', agent: 'nora', reason_raw: 'AgentRingNoAnswer' });
    expect(Number(missed[0]!.data.ring_s)).toBeGreaterThanOrEqual(3);
    // ben answers at once and talks 2 s.
    await waitFor(async () => (await agent('ben'))?.today.handled === 1, 30_000, 'ben to have handled the call');
    expect(await agent('nora')).toMatchObject({ activity: 'available', today: { missed: 1, handled: 0 } });
  });

  it("a queue's wrapuptime is after-call work, from AgentComplete for that long", async () => {
    await addMember('wrap', '1201', 'amy');
    await ami.originate('wrap', '5552201', 20);
    const complete = () => ami.events.find((event) => event.headers.Event === 'AgentComplete' && event.headers.Queue === 'wrap' && event.headers.MemberName === 'amy');
    const acwAfterMs = await activityShown('amy', 'after_call_work', complete);
    expect(acwAfterMs).toBeLessThan(1000);
    await waitFor(async () => (await agent('amy'))?.activity === 'available', 30_000, 'amy available after her wrap-up');
    const amy = (await agent('amy'))!;
    const completedMs = Number(complete()!.headers.Timestamp) * 1000;
    // The wrap-up's end is published at its time: AgentComplete + wrapuptime, to the millisecond.
    expect(Date.parse(amy.activity_since)).toBe(Math.round(completedMs) + WRAPUP_S * 1000);
    expect(amy.today).toMatchObject({ handled: 1, acw_s: WRAPUP_S });
    const statuses = (await log()).filter((event) => event.type === 'agent.status_changed' && event.data.agent === 'amy').map((event) => [event.data.status, event.data.status_raw]);
    expect(statuses).toContainEqual(['wrapup', 'wrapuptime']);
  });

  it("a caller who gives up is abandoned; every queue's figures agree with QueueStatus (Completed, Abandoned, Holdtime, TalkTime)", async () => {
    await addMember('gone', '9301', 'gus');
    await ami.originate('gone', '5552301', 3);
    await waitFor(async () => (await queue('gone'))?.abandoned === 1, 30_000, 'the abandon');
    const events = await log();
    for (const name of ['ring', 'wrap', 'gone']) {
      const params = await ami.queueParams(name);
      const figures = (await queue(name))!;
      const waits = events.filter((event) => event.type === 'call.connected' && event.data.queue === name).map((event) => Number(event.data.wait_s));
      const talks = events.filter((event) => event.type === 'call.ended' && event.data.queue === name).map((event) => Number(event.data.talk_s));
      expect({ queue: name, completed: figures.answered, abandoned: figures.abandoned }).toEqual({ queue: name, completed: Number(params.Completed), abandoned: Number(params.Abandoned) });
      // Asterisk averages its own way; the same waits and talks, averaged so, give its figures. It
      // reads its clock (whole seconds) for the average a moment apart from the event's HoldTime
      // and TalkTime, so a value may cross a second between the two: within 1 s.
      const averaged = [asteriskAverage(waits), asteriskAverage(talks)];
      const reported = [Number(params.Holdtime), Number(params.TalkTime)];
      expect(averaged.every((value, index) => Math.abs(value - reported[index]!) <= 1), `${name}: ${JSON.stringify({ waits, talks, averaged, reported })}`).toBe(true);
      const mean = (values: number[]) => (values.length ? Math.round((10 * values.reduce((sum, value) => sum + value, 0)) / values.length) / 10 : null);
      expect([figures.asa_s, figures.average_talk_s]).toEqual([mean(waits), mean(talks)]);
    }
    expect((await queue('gone'))?.abandon_rate_pct).toBe(100);
    expect((await queue('ring'))?.abandon_rate_pct).toBe(0);
  });
});
