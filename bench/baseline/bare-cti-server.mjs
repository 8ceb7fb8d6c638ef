// The bare node:http side shared by the bare ceilings (cti-bare-http.mjs, cti-bare-scripts.mjs):
// the contract's routes (docs/contracts/cti-cache.md), status codes and bodies, a string compare for Basic auth, no validation
// beyond what the routes need. Each ceiling brings its own Redis work as `backend`:
//   store(ani, valueJson) → Promise<dnis>; fetch(key) and take(key) → Promise<valueJson | null>,
//   where key is "<dnis>:<ani>".
// Configured by environment: PORT, CTI_USER, CTI_PASSWORD.
import { createServer } from 'node:http';

const { PORT, CTI_USER, CTI_PASSWORD } = process.env;
const expectedAuth = `Basic ${Buffer.from(`${CTI_USER}:${CTI_PASSWORD}`).toString('base64')}`;
const prefix = '/cticache/DNIS-ANI';

function send(res, status, json, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(json), ...headers });
  res.end(json);
}

export function serveBareCti(backend) {
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
        backend.store(body.ani, value).then(
          (dnis) => send(res, 201, `{"dnis":${JSON.stringify(dnis)},"ani":${JSON.stringify(body.ani)},"value":${value}}`, { location: `${prefix}/${dnis}:${body.ani}` }),
          () => send(res, 503, '{"error":"redis"}'),
        );
      });
      return;
    }
    if ((req.method === 'GET' || req.method === 'DELETE') && req.url.startsWith(`${prefix}/`)) {
      const key = decodeURIComponent(req.url.slice(prefix.length + 1));
      (req.method === 'GET' ? backend.fetch(key) : backend.take(key)).then(
        (value) => (value === null ? send(res, 404, '{"error":"not found"}') : send(res, 200, `{"value":${value}}`)),
        () => send(res, 503, '{"error":"redis"}'),
      );
      return;
    }
    send(res, 404, '{"error":"not found"}');
  }).listen(Number(PORT), '127.0.0.1');
}
