// `npm run bench -- security`: a verified CTI client's latency while 1,000 concurrent wrong
// passwords arrive, beside the same client's latency while 1,000 concurrent plain requests
// (/healthz, no credentials) arrive: the ceiling is what the HTTP flood itself costs this machine.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../dist/config/load.js';
import { Hub } from '../dist/hub.js';
import { cpuMeter, percentile, report, reportCpu, section, startRedis, tempDir, THIS_PROCESS } from './lib.mjs';

const FLOOD = fileURLToPath(new URL('../test/fixtures/flood/credential-flood.mjs', import.meta.url));
const CONCURRENT = 1000;
const WAVES = 3;
const GOOD = `Basic ${Buffer.from('desk:right-password').toString('base64')}`;

const redis = await startRedis();
const config = parseConfig({
  dataDir: tempDir(),
  logLevel: 'silent',
  keyPrefix: 'sbbench',
  http: { port: 0 },
  redis: { url: redis.url, commandTimeoutMs: 5000 },
  auth: { apiToken: 'bench-token-0123456789abcdef' },
  cti: { users: [{ username: 'desk', password: 'right-password' }], pools: { main: ['5550001000-5550001009'] } },
});
const hub = await Hub.start(Object.freeze(config), { logger: pino({ level: 'silent' }) });
try {
  const stored = await fetch(`${hub.url}/cticache/DNIS-ANI`, {
    method: 'POST',
    headers: { authorization: GOOD, 'content-type': 'application/json' },
    body: JSON.stringify({ ani: '+441234567', value: { account: 42 } }),
  });
  const location = stored.headers.get('location');
  const get = async () => {
    const started = performance.now();
    const response = await fetch(`${hub.url}${location}`, { headers: { authorization: GOOD } });
    if (response.status !== 200) throw new Error(`verified client got ${response.status}`);
    await response.arrayBuffer();
    return performance.now() - started;
  };
  const during = async (path) => {
    const flood = spawn(process.execPath, [FLOOD, `${hub.url}${path}`, 'basic', String(CONCURRENT), String(WAVES)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let output = '';
    flood.stdout.on('data', (chunk) => (output += chunk));
    let done = false;
    const exited = new Promise((resolve) => flood.on('exit', resolve)).then(() => (done = true));
    while (!output.includes('wave 0')) await new Promise((resolve) => setTimeout(resolve, 10));
    const latencies = [];
    // The hub runs in this process (with the verified client's loop); the flood has its own.
    const meter = cpuMeter({ hub: THIS_PROCESS, redis: redis.pid });
    const started = performance.now();
    while (!done) latencies.push(await get());
    await exited;
    const summary = JSON.parse(output.trim().split('\n').at(-1));
    return { latencies: latencies.sort((a, b) => a - b), seconds: (performance.now() - started) / 1000, summary, cpu: meter.perEvent(summary.sent) };
  };

  const quiet = [];
  for (let i = 0; i < 500; i += 1) quiet.push(await get());
  quiet.sort((a, b) => a - b);
  const plain = await during('/healthz');
  const attack = await during(location);

  section(`CTI credential flood: ${WAVES} waves of ${CONCURRENT} concurrent requests from ${CONCURRENT} loopback addresses`);
  report({ name: 'verified client p50, no flood', value: percentile(quiet, 50), unit: 'ms' });
  report({ name: 'verified client p99, no flood', value: percentile(quiet, 99), unit: 'ms' });
  report({ name: 'verified client p50 under wrong passwords', value: percentile(attack.latencies, 50), unit: 'ms', ceilingName: 'under plain requests', ceiling: percentile(plain.latencies, 50) });
  report({ name: 'verified client p99 under wrong passwords', value: percentile(attack.latencies, 99), unit: 'ms', ceilingName: 'under plain requests', ceiling: percentile(plain.latencies, 99), goal: '< 100 ms' });
  report({ name: 'verified client max under wrong passwords', value: attack.latencies.at(-1), unit: 'ms', ceilingName: 'under plain requests', ceiling: plain.latencies.at(-1) });
  report({ name: 'flood requests answered per second (wrong passwords)', value: attack.summary.sent / attack.seconds, unit: '/s', ceilingName: 'plain', ceiling: plain.summary.sent / plain.seconds });
  reportCpu({ name: 'flood request', cpu: attack.cpu, ceilingName: 'plain', ceilingCpu: plain.cpu, hub: 'bench process (hub)' });
  console.log(`wrong-password answers: ${JSON.stringify(attack.summary.statuses)}; plain answers: ${JSON.stringify(plain.summary.statuses)}`);
} finally {
  await hub.close();
  await redis.close();
}
