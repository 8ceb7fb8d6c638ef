// Baseline: the CTI cache's original design (docs/contracts/cti-cache.md): Express + a Redis client,
// HTTP Basic auth against a configured user, a DNIS picked round-robin from an in-memory pool
// (one process only: nothing stops two nodes handing out the same DNIS), SET with EX for expiry,
// GET to fetch, GETDEL to fetch and delete. Same routes, status codes and bodies as Switchboard.
// Configured by environment: PORT, REDIS_URL, POOL (comma-separated), TTL_SECONDS, CTI_USER, CTI_PASSWORD.
import express from 'express';
import { createClient } from 'redis';

const { PORT, REDIS_URL, POOL, TTL_SECONDS = '600', CTI_USER, CTI_PASSWORD } = process.env;
const pool = POOL.split(',');
let next = 0;

const redis = createClient({ url: REDIS_URL, RESP: 2 });
redis.on('error', (error) => console.error('redis', error.message));
await redis.connect();

const app = express();
app.use(express.json());
app.use((req, res, next) => {
  const header = req.headers.authorization ?? '';
  const [scheme, encoded = ''] = header.split(' ');
  const [user, ...rest] = Buffer.from(encoded, 'base64').toString().split(':');
  if (scheme !== 'Basic' || user !== CTI_USER || rest.join(':') !== CTI_PASSWORD) {
    res.set('WWW-Authenticate', 'Basic realm="cticache"');
    return res.status(401).json({ error: 'unauthorized' });
  }
  next();
});

app.post('/cticache/DNIS-ANI', async (req, res) => {
  const { value, ani } = req.body ?? {};
  if (value === undefined || typeof ani !== 'string') return res.status(400).json({ error: 'value and ani are required' });
  const dnis = pool[next];
  next = (next + 1) % pool.length;
  await redis.set(`${dnis}:${ani}`, JSON.stringify(value), { EX: Number(TTL_SECONDS) });
  res.status(201).location(`/cticache/DNIS-ANI/${dnis}:${ani}`).json({ dnis, ani, value });
});

app.get('/cticache/DNIS-ANI/:key', async (req, res) => {
  const value = await redis.get(req.params.key);
  if (value === null) return res.status(404).json({ error: 'not found' });
  res.json({ value: JSON.parse(value) });
});

app.delete('/cticache/DNIS-ANI/:key', async (req, res) => {
  const value = await redis.getDel(req.params.key);
  if (value === null) return res.status(404).json({ error: 'not found' });
  res.json({ value: JSON.parse(value) });
});

app.listen(Number(PORT), '127.0.0.1');
