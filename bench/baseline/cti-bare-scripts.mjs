// Diagnostic ceiling: bare node:http (bare-cti-server.mjs, as cti-bare-http.mjs) doing
// Switchboard's own Redis work per request through its CtiStore: the same Lua scripts (atomic
// allocation across nodes, fetch, fetch-and-release), each appending its cti.* event to the event
// log. Switchboard against this shows what its HTTP side costs; this against cti-bare-http.mjs
// shows what the Redis work costs.
// Configured by environment: PORT, REDIS_URL, POOL (comma-separated), TTL_SECONDS, CTI_USER, CTI_PASSWORD.
import { createClient } from 'redis';
import { parseConfig } from '../../dist/config/load.js';
import { CtiEventRenderer } from '../../dist/cti/events.js';
import { CtiStore } from '../../dist/cti/store.js';
import { createKeys } from '../../dist/redis/keys.js';
import { serveBareCti } from './bare-cti-server.mjs';

const { REDIS_URL, POOL, TTL_SECONDS = '600' } = process.env;
const pool = { name: 'bench', numbers: POOL.split(','), ttlSeconds: Number(TTL_SECONDS) };

const redis = createClient({ url: REDIS_URL, RESP: 2 });
redis.on('error', (error) => console.error('redis', error.message));
await redis.connect();
// Switchboard's own store: the same scripts and arguments as the hub sends.
const store = new CtiStore(redis, createKeys(parseConfig({})), new CtiEventRenderer(true, 1_000_000), 10_000);
await store.sync([pool]);

const split = (key) => {
  const colon = key.indexOf(':');
  return [key.slice(0, colon), key.slice(colon + 1)];
};
serveBareCti({
  store: (ani, value) => store.put(pool, ani, ani, value),
  fetch: (key) => {
    const [dnis, ani] = split(key);
    return store.get(pool, dnis, ani, ani);
  },
  take: (key) => {
    const [dnis, ani] = split(key);
    return store.take(pool, dnis, ani, ani);
  },
});
