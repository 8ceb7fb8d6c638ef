import { setTimeout as sleep } from 'node:timers/promises';
import { HubClient, HubError, HubUnreachableError, type Accepted } from '@switchboard/client';
import { SandboxDialler, type SandboxEvent } from '../sandbox/dialler.js';

export interface SimulateOptions {
  url: string;
  token?: string;
  rate: number;
  agents: number;
  campaigns: number;
  durationS: number;
  maxBatch: number;
  seed: number;
}

interface Summary {
  requests: number;
  accepted: number;
  duplicates: number;
  rejected: Map<string, number>;
  byType: Map<string, number>;
  cdrByDisposition: Map<string, number>;
  latenciesMs: number[];
}

const TICK_MS = 20;
/** Answers that no later request can change: missing or wrong credentials, a token without the ingest role. */
const STOPS_SIMULATION = new Set([401, 403]);

/**
 * `switchboard simulate`: drives sandbox dialler traffic through the intake at a steady rate, one
 * request in flight at a time (like a dialler, so acceptance order is the dialler's order), and
 * prints a summary. Stops after `durationS` (0: on Ctrl-C) with campaigns completed and agents
 * logged out.
 */
export async function simulateCommand(options: SimulateOptions, out: NodeJS.WritableStream = process.stdout): Promise<Summary> {
  const dialler = new SandboxDialler({ agents: options.agents, campaigns: options.campaigns, seed: options.seed });
  const summary: Summary = { requests: 0, accepted: 0, duplicates: 0, rejected: new Map(), byType: new Map(), cdrByDisposition: new Map(), latenciesMs: [] };
  const hub = new HubClient({ url: options.url, ...(options.token ? { token: options.token } : {}) });
  const interrupted = new AbortController();
  const onSigint = () => interrupted.abort();
  process.once('SIGINT', onSigint);

  const started = performance.now();
  try {
    out.write(`simulating ${options.agents} agents on ${options.campaigns} campaigns at ${options.rate} events/s → ${options.url}\n`);
    const endAt = options.durationS > 0 ? started + options.durationS * 1000 : Infinity;
    let backlog: SandboxEvent[] = [];
    let due = 0;
    let lastProgress = started;

    while (performance.now() < endAt && !interrupted.signal.aborted) {
      const tickStart = performance.now();
      due += (options.rate * TICK_MS) / 1000;
      while (backlog.length < due) backlog.push(...dialler.next());
      const count = Math.min(Math.floor(due), options.maxBatch);
      if (count > 0) {
        await send(hub, backlog.slice(0, count), summary);
        backlog = backlog.slice(count);
        due -= count;
      }
      if (tickStart - lastProgress > 5000) {
        lastProgress = tickStart;
        out.write(`  ${((tickStart - started) / 1000).toFixed(0)} s: ${summary.accepted} events accepted\n`);
      }
      await sleep(Math.max(0, TICK_MS - (performance.now() - tickStart)));
    }
    const finish = [...backlog, ...dialler.finish()];
    for (let i = 0; i < finish.length; i += options.maxBatch) await send(hub, finish.slice(i, i + options.maxBatch), summary);
  } finally {
    process.off('SIGINT', onSigint);
  }

  printSummary(out, summary, (performance.now() - started) / 1000);
  return summary;
}

async function send(hub: HubClient, events: SandboxEvent[], summary: Summary): Promise<void> {
  const sentAt = performance.now();
  summary.requests += 1;
  let answer: Accepted;
  try {
    // Sandbox events carry their type as a string (sendEvents wants it typed): the plain call; the hub validates them.
    answer = await hub.request<Accepted>('POST', '/v1/events', events);
  } catch (error) {
    // Every later request would fail the same way: stop at the first (main prints the hint).
    if (error instanceof HubUnreachableError || (error instanceof HubError && STOPS_SIMULATION.has(error.status))) throw error;
    if (!(error instanceof HubError)) throw error;
    summary.latenciesMs.push(performance.now() - sentAt);
    increment(summary.rejected, `${error.status} ${error.code}`, events.length);
    return;
  }
  summary.latenciesMs.push(performance.now() - sentAt);
  summary.accepted += answer.accepted;
  summary.duplicates += answer.duplicates;
  for (const event of events) {
    increment(summary.byType, event.type);
    if (event.type === 'cdr.created') increment(summary.cdrByDisposition, String(event.data.disposition));
  }
}

function increment(counts: Map<string, number>, key: string, by = 1): void {
  counts.set(key, (counts.get(key) ?? 0) + by);
}

function printSummary(out: NodeJS.WritableStream, summary: Summary, elapsedS: number): void {
  const sorted = [...summary.latenciesMs].sort((a, b) => a - b);
  const at = (p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(1) : 'n/a');
  const table = (counts: Map<string, number>) =>
    [...counts].sort((a, b) => b[1] - a[1]).map(([key, count]) => `    ${key.padEnd(26)} ${count}`).join('\n');
  out.write(
    [
      '',
      `summary: ${summary.accepted} events accepted in ${summary.requests} requests over ${elapsedS.toFixed(1)} s (${(summary.accepted / elapsedS).toFixed(0)} events/s), ${summary.duplicates} duplicates`,
      `  request latency p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`,
      '  events by type:',
      table(summary.byType),
      '  CDRs by disposition:',
      table(summary.cdrByDisposition),
      ...(summary.rejected.size ? ['  rejected events:', table(summary.rejected)] : []),
      '',
    ].join('\n'),
  );
}
