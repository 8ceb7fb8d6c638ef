// Ceiling: bare node:http + one Redis call per request, the least a CTI cache can do. Same
// routes, status codes and bodies as Switchboard (bare-cti-server.mjs); no events, no metrics, a
// round-robin DNIS (single process), SET with EX, GET, GETDEL.
// Configured by environment: PORT, REDIS_URL, POOL (comma-separated), TTL_SECONDS, CTI_USER, CTI_PASSWORD.
import { createClient } from 'redis';
import { serveBareCti } from './bare-cti-server.mjs';

const { REDIS_URL, POOL, TTL_SECONDS = '600' } = process.env;
const pool = POOL.split(',');
let next = 0;

const redis = createClient({ url: REDIS_URL, RESP: 2 });
redis.on('error', (error) => console.error('redis', error.message));
await redis.connect();

serveBareCti({
  store(ani, value) {
    const dnis = pool[next];
    next = (next + 1) % pool.length;
    return redis.set(`${dnis}:${ani}`, value, { EX: Number(TTL_SECONDS) }).then(() => dnis);
  },
  fetch: (key) => redis.get(key),
  take: (key) => redis.getDel(key),
});
