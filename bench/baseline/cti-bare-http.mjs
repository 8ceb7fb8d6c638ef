// Ceiling: bare node:http + one Redis call per request, the least a CTI cache can do. Same
// routes, status codes and bodies as Switchboard; no validation beyond what the routes need,
// no events, no metrics, a round-robin DNIS (single process), SET with EX, GET, GETDEL.
// Configured by environment: PORT, REDIS_URL, POOL (comma-separated), TTL_SECONDS, CTI_USER, CTI_PASSWORD.
import { createServer } from 'node:http';
import { createClient } from 'redis';

const { PORT, REDIS_URL, POOL, TTL_SECONDS = '600', CTI_USER, CTI_PASSWORD } = process.env;
const pool = POOL.split(',');
const expectedAuth = `Basic ${Buffer.from(`${CTI_USER}:${CTI_PASSWORD}`).toString('base64')}`;
const prefix = '/cticache/DNIS-ANI';
let next = 0;

const redis = createClient({ url: REDIS_URL, RESP: 2 });
redis.on('error', (error) => console.error('redis', error.message));
await redis.connect();

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
      const dnis = pool[next];
      next = (next + 1) % pool.length;
      const value = JSON.stringify(body.value);
      redis.set(`${dnis}:${body.ani}`, value, { EX: Number(TTL_SECONDS) }).then(
        () => send(res, 201, `{"dnis":${JSON.stringify(dnis)},"ani":${JSON.stringify(body.ani)},"value":${value}}`, { location: `${prefix}/${dnis}:${body.ani}` }),
        () => send(res, 503, '{"error":"redis"}'),
      );
    });
    return;
  }
  if ((req.method === 'GET' || req.method === 'DELETE') && req.url.startsWith(`${prefix}/`)) {
    const key = decodeURIComponent(req.url.slice(prefix.length + 1));
    (req.method === 'GET' ? redis.get(key) : redis.getDel(key)).then(
      (value) => (value === null ? send(res, 404, '{"error":"not found"}') : send(res, 200, `{"value":${value}}`)),
      () => send(res, 503, '{"error":"redis"}'),
    );
    return;
  }
  send(res, 404, '{"error":"not found"}');
}).listen(Number(PORT), '127.0.0.1');
