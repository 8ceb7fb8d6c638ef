// Child process of live.bench.mjs: load generator and stream readers, so the hub's process does
// only the hub's work. Commands arrive over IPC; answers go back the same way.
import { request } from 'node:http';
import { createClient } from 'redis';
import { Pool } from 'undici';

const now = () => performance.timeOrigin + performance.now();

function percentiles(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  return { count: sorted.length, p50: at(50), p99: at(99) };
}

/** Every 10 ms, `send(first, count)` the events due (`rate` per second) for `seconds`; returns how many. */
async function generate(rate, seconds, send) {
  const tickMs = 10;
  const perTick = (rate * tickMs) / 1000;
  let due = 0;
  let n = 0;
  const end = now() + seconds * 1000;
  const pending = [];
  while (now() < end) {
    const tick = now();
    due += perTick;
    const count = Math.floor(due);
    due -= count;
    if (count > 0) pending.push(send(n, count));
    n += count;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, tickMs - (now() - tick))));
  }
  await Promise.all(pending);
  return n;
}

/** Reads an SSE stream with node:http, counting frames; `onFrame(text)` sees each frame's data line. */
function openStream(url, token, onData) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`stream answered ${res.statusCode}`));
      res.setEncoding('utf8');
      res.on('data', onData);
      resolve(() => req.destroy());
    });
    req.on('error', reject);
    req.end();
  });
}

const commands = {
  /** intake → SSE latency: one stream reader; every 10 ms one request with the events due (a dialler's batch). */
  async sse({ hubUrl, token, rate, seconds }) {
    const latencies = [];
    let buffer = '';
    const close = await openStream(`${hubUrl}/v1/stream?types=agent.status_changed`, token, (chunk) => {
      const at = now();
      buffer += chunk;
      let index;
      while ((index = buffer.indexOf('\n\n')) >= 0) {
        const frame = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        const sent = frame.match(/"id":"lat-\d+-(\d+(?:\.\d+)?)"/);
        if (sent) latencies.push(at - Number(sent[1]));
      }
    });
    const pool = new Pool(hubUrl, { connections: 32 });
    const answered = [];
    const sent = await generate(rate, seconds, async (first, count) => {
      const at = now();
      const body = JSON.stringify(
        Array.from({ length: count }, (_, i) => ({ id: `lat-${first + i}-${at}`, type: 'agent.status_changed', data: { agent: String(1000 + ((first + i) % 200)), status: (first + i) % 2 ? 'available' : 'busy' } })),
      );
      const response = await pool.request({ method: 'POST', path: '/v1/events', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body });
      await response.body.dump();
      answered.push(now() - at);
    });
    const deadline = now() + 10_000;
    while (latencies.length < sent && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    close();
    await pool.close();
    const intake = percentiles(answered);
    return { sent, ...percentiles(latencies), intakeP50: intake.p50, intakeP99: intake.p99 };
  },

  /** The ceiling: Redis PUBLISH → subscriber latency, same rate and payload size. */
  async pubsub({ redisUrl, rate, seconds }) {
    const publisher = createClient({ url: redisUrl });
    const subscriber = createClient({ url: redisUrl });
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const latencies = [];
    await subscriber.subscribe('bench:live', (message) => {
      const sent = message.match(/"id":"lat-\d+-(\d+(?:\.\d+)?)"/);
      if (sent) latencies.push(now() - Number(sent[1]));
    });
    const sent = await generate(rate, seconds, (first, count) => {
      const at = now();
      return Promise.all(
        Array.from({ length: count }, (_, i) =>
          publisher.publish('bench:live', JSON.stringify({ id: `lat-${first + i}-${at}`, type: 'agent.status_changed', time: new Date().toISOString(), data: { agent: String(1000 + ((first + i) % 200)), status: 'busy' } })),
        ),
      );
    });
    const deadline = now() + 5_000;
    while (latencies.length < sent && now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    await Promise.all([publisher.quit(), subscriber.quit()]);
    return { sent, ...percentiles(latencies) };
  },

  /** Opens `clients` streams and counts the event frames each receives. */
  async open({ url, token, clients }) {
    state.frames = 0;
    state.closers = await Promise.all(
      Array.from({ length: clients }, () => {
        // A marker split across two chunks still counts once: keep the previous chunk's tail.
        let tail = '';
        return openStream(url, token, (chunk) => {
          const text = tail + chunk;
          let from = 0;
          while ((from = text.indexOf('\nevent: ', from) + 1) > 0) state.frames += 1;
          tail = text.slice(-7);
        });
      }),
    );
    return { opened: state.closers.length };
  },

  async frames() {
    return { frames: state.frames };
  },

  async closeAll() {
    for (const close of state.closers) close();
    state.closers = [];
    return {};
  },
};
const state = { frames: 0, closers: [] };

process.on('message', async ({ command, args }) => {
  try {
    process.send({ ok: true, ...(await commands[command](args)) });
  } catch (error) {
    process.send({ ok: false, error: String(error?.stack ?? error) });
  }
});
process.send({ ready: true });
