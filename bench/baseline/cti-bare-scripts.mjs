// Diagnostic ceiling: bare node:http (as cti-bare-http.mjs) doing Switchboard's own Redis work per
// request through its CtiStore: the same Lua scripts (atomic allocation across nodes, fetch,
// fetch-and-release), each appending its cti.* event to the event log. Switchboard against this
// shows what its HTTP side costs; this against cti-bare-http.mjs shows what the Redis work costs.
// Configured by environment: PORT, REDIS_URL, POOL (comma-separated), TTL_SECONDS, CTI_USER, CTI_PASSWORD.
import { createServer } from 'node:http';
import { createClient } from 'redis';
import { parseConfig } from '../../dist/config/load.js';
import { CtiEventRenderer } from '../../dist/cti/events.js';
import { CtiStore } from '../../dist/cti/store.js';
import { createKeys } from '../../dist/redis/keys.js';

const { PORT, REDIS_URL, POOL, TTL_SECONDS = '600', CTI_USER, CTI_PASSWORD } = process.env;
const expectedAuth = `Basic ${Buffer.from(`${CTI_USER}:${CTI_PASSWORD}`).toString('base64')}`;
const prefix = '/cticache/DNIS-ANI';
const pool = { name: 'bench', numbers: POOL.split(','), ttlSeconds: Number(TTL_SECONDS) };

const redis = createClient({ url: REDIS_URL, RESP: 2 });
redis.on('error', (error) => console.error('redis', error.message));
await redis.connect();
// Switchboard's own store: the same scripts and arguments as the hub sends.
const store = new CtiStore(redis, createKeys(parseConfig({})), new CtiEventRenderer(true, 1_000_000), 10_000);
await store.sync([pool]);

function send(res, status, json, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

createServer((req, res) => {
  if (req.headers.authorization !== expectedAuth) return send(res, 401, '{"error":"unauthorized"}', { 'www-authenticate': 'Basic realm="cticache"' });
  if (req.method === 'POST' && req.url === prefix) {
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString());
      } catch {
        return send(res, 400, '{"error":"malformed JSON"}');
      }
      if (body?.value === undefined || typeof body.ani !== 'string') return send(res, 400, '{"error":"value and ani are required"}');
      const value = JSON.stringify(body.value);
      store.put(pool, body.ani, body.ani, value).then(
        (dnis) => send(res, 201, `{"dnis":${JSON.stringify(dnis)},"ani":${JSON.stringify(body.ani)},"value":${value}}`, { location: `${prefix}/${dnis}:${body.ani}` }),
        () => send(res, 503, '{"error":"unavailable"}'),
      );
    });
    return;
  }
  if ((req.method === 'GET' || req.method === 'DELETE') && req.url.startsWith(`${prefix}/`)) {
    const key = decodeURIComponent(req.url.slice(prefix.length + 1));
    const [dnis, ani] = key.split(':');
    const answer = req.method === 'GET' ? store.get(pool, dnis, ani, ani) : store.take(pool, dnis, ani, ani);
    answer.then(
      (value) => (value === null ? send(res, 404, '{"error":"not found"}') : send(res, 200, `{"value":${value}}`)),
      () => send(res, 503, '{"error":"redis"}'),
    );
    return;
  }
  send(res, 404, '{"error":"not found"}');
}).listen(Number(PORT), '127.0.0.1');
