// The Asterisk source under a real Asterisk 22 (`npm run bench -- sources`): 100 callers at once
// through app_queue, answered by 100 Local-channel agents, while a hub listens over AMI. Figures:
// the hub's CPU per AMI event it reads (from /proc, user + system), beside the CPU Asterisk itself
// spent per event in the same window (the ceiling: the PBX producing the stream), and redis-server's
// CPU per event; then Asterisk's own QueueStatus beside /v1/live/queues, and one record per call.
// Needs root (the chroot of test/helpers/asterisk.ts, built on first use).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';
import { createClient } from 'redis';
import { waitForPort } from '../dist/redis/local-server.js';
import { eventLogKey } from '../dist/redis/keys.js';
import { cpuSeconds, freePort, report, section, sleep, startRedis, tempDir } from './lib.mjs';

register();
const { AmiDriver, AMI_SECRET, AMI_USER, RealAsterisk } = await import('../test/helpers/asterisk.ts');

const CALLS = Number(process.env.BENCH_ASTERISK_CALLS ?? 100);
const TOKEN = 'bench-token-0123456789abcdef';

async function metric(url, name) {
  const text = await (await fetch(`${url}/metrics`)).text();
  return Number(text.match(new RegExp(`^${name}\\{source="pbx"\\} (\\S+)$`, 'm'))?.[1] ?? NaN);
}

section(`Asterisk 22 (real) → hub: ${CALLS} concurrent queue calls, ${CALLS} Local-channel agents (talk 2 s), Events: on`);
const redis = await startRedis({ appendOnly: false });
const asterisk = await RealAsterisk.start({ queues: { load: { strategy: 'leastrecent', timeout: 15, servicelevel: 20 } } });
const ami = await AmiDriver.connect(asterisk.amiPort);
for (let i = 0; i < CALLS; i += 1) {
  await ami.action({ Action: 'QueueAdd', Queue: 'load', Interface: `Local/${1000 + i}@agents`, MemberName: `agent-${1000 + i}` });
}

const port = await freePort();
const dir = tempDir();
const keyPrefix = `bench-real-${Date.now()}`;
const configFile = join(dir, 'switchboard.json');
writeFileSync(
  configFile,
  JSON.stringify({
    keyPrefix,
    auth: { apiToken: TOKEN },
    live: { serviceLevelThresholdMs: 20_000, shortAbandonMs: 0 },
    sources: [{ type: 'asterisk', name: 'pbx', host: '127.0.0.1', port: asterisk.amiPort, username: AMI_USER, secret: AMI_SECRET, cdrSettleMs: 500 }],
  }),
);
const hub = spawn(process.execPath, [new URL('../dist/cli/main.js', import.meta.url).pathname, 'start'], {
  env: { PATH: process.env.PATH, SWITCHBOARD_CONFIG: configFile, SWITCHBOARD_REDIS_URL: redis.url, SWITCHBOARD_HTTP_PORT: String(port), SWITCHBOARD_DATA_DIR: dir, SWITCHBOARD_LOG_LEVEL: 'error' },
  stdio: ['ignore', 'ignore', 'pipe'],
});
let hubErrors = '';
hub.stderr.on('data', (chunk) => (hubErrors += chunk));
hub.once('exit', (code) => code && console.error(`hub exited with ${code}:\n${hubErrors}`));
const url = `http://127.0.0.1:${port}`;
await waitForPort(port, 30_000);
const client = createClient({ url: redis.url });
await client.connect();
const logged = async (type) => (await client.xRange(eventLogKey(keyPrefix), '-', '+')).filter((entry) => entry.message.type === type).length;
while ((await logged('source.resynced')) === 0) await sleep(50);

// The hub's own idle CPU (timers, health checks, Redis round trips), to tell it from the events' cost.
const IDLE_S = 10;
const idleBefore = cpuSeconds(hub.pid);
await sleep(IDLE_S * 1000);
const idlePerSecond = (cpuSeconds(hub.pid) - idleBefore) / IDLE_S;

const eventsBefore = await metric(url, 'switchboard_source_events_in_total');
const cpuBefore = { hub: cpuSeconds(hub.pid), asterisk: cpuSeconds(asterisk.pid), redis: cpuSeconds(redis.pid) };
const started = performance.now();
for (let i = 0; i < CALLS; i += 1) {
  ami.action({ Action: 'Originate', Channel: 'Local/load@queue-in', Application: 'Wait', Data: '120', CallerID: `"Load ${i}" <55590${String(i).padStart(4, '0')}>`, Async: 'true' });
}
while ((await logged('cdr.created')) < CALLS) await sleep(100);
const elapsed = (performance.now() - started) / 1000;
const events = (await metric(url, 'switchboard_source_events_in_total')) - eventsBefore;
const cpu = {
  hub: cpuSeconds(hub.pid) - cpuBefore.hub,
  asterisk: cpuSeconds(asterisk.pid) - cpuBefore.asterisk,
  redis: cpuSeconds(redis.pid) - cpuBefore.redis,
};
console.log(`  ${events} AMI events in ${elapsed.toFixed(1)} s; CPU s: hub ${cpu.hub.toFixed(2)} (idle ${(idlePerSecond * elapsed).toFixed(2)} of it), asterisk ${cpu.asterisk.toFixed(2)}, redis-server ${cpu.redis.toFixed(2)}`);
report({ name: 'hub CPU per AMI event (µs)', value: (cpu.hub / events) * 1e6, unit: 'µs', ceilingName: 'Asterisk CPU per event it sent', ceiling: (cpu.asterisk / events) * 1e6, goal: 'lower is better' });
report({ name: 'hub CPU per AMI event, idle CPU taken out (µs)', value: (Math.max(0, cpu.hub - idlePerSecond * elapsed) / events) * 1e6, unit: 'µs', ceilingName: 'Asterisk CPU per event it sent', ceiling: (cpu.asterisk / events) * 1e6, goal: 'lower is better' });
report({ name: 'redis-server CPU per AMI event (µs)', value: (cpu.redis / events) * 1e6, unit: 'µs', ceilingName: 'Asterisk CPU per event it sent', ceiling: (cpu.asterisk / events) * 1e6, goal: 'lower is better' });

await sleep(1000);
const params = (await ami.queueStatus('load')).find((event) => event.headers.Event === 'QueueParams').headers;
const live = (await (await fetch(`${url}/v1/live/queues`, { headers: { authorization: `Bearer ${TOKEN}` } })).json()).queues.find((queue) => queue.queue === 'load');
console.log(`  Asterisk QueueStatus: Completed ${params.Completed}, Abandoned ${params.Abandoned}, Holdtime ${params.Holdtime}, TalkTime ${params.TalkTime}, ServicelevelPerf ${params.ServicelevelPerf}`);
// Asterisk's Holdtime and TalkTime are exponential averages (each new call weighs 1/4); its
// ServicelevelPerf is answered within the level ÷ answered, where the live figure also counts abandons.
console.log(`  /v1/live/queues:      answered ${live.answered}, abandoned ${live.abandoned}, average_wait_s ${live.average_wait_s}, average_talk_s ${live.average_talk_s}, service_level_pct ${live.service_level_pct}, answered_within_sl ÷ answered ${((100 * live.answered_within_sl) / live.answered).toFixed(1)}`);
console.log(`  cdr.created: ${await logged('cdr.created')} for ${CALLS} calls`);

hub.kill('SIGTERM');
await once(hub, 'exit');
await client.quit();
await ami.close();
await asterisk.close();
await redis.close();
