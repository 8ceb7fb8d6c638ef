// One worker of an integrator: prints every CDR it receives as a JSON line, acknowledges it, and
// stops cleanly on Ctrl-C / SIGTERM. Run several copies (different CONSUMER names) to share the load;
// kill one and its unacknowledged CDRs reach a sibling after CLAIM_IDLE_MS.
//
//   curl -X POST localhost:8080/v1/integrators -H "authorization: Bearer $SWITCHBOARD_API_TOKEN" \
//        -H 'content-type: application/json' -d '{"name": "crm-a"}'
//   INTEGRATOR=crm-a CONSUMER=worker-1 node examples/consume-cdrs.mjs
import { hostname } from 'node:os';
import { consumeCdrs } from '@switchboard/client';

const env = process.env;
const controller = new AbortController();
process.once('SIGINT', () => controller.abort());
process.once('SIGTERM', () => controller.abort());

// Stand-in for your own processing time (a CRM write, a billing insert…).
const workMs = Number(env.SIMULATED_WORK_MS ?? 0);

await consumeCdrs({
  url: env.SWITCHBOARD_REDIS_URL ?? 'redis://127.0.0.1:6379',
  keyPrefix: env.SWITCHBOARD_KEY_PREFIX ?? 'switchboard',
  integrator: env.INTEGRATOR ?? 'crm-a',
  // Stable per worker: after a restart it first finishes what it had been given.
  consumer: env.CONSUMER ?? `${hostname()}-${process.pid}`,
  claimIdleMs: Number(env.CLAIM_IDLE_MS ?? 30_000),
  signal: controller.signal,
  async handler(cdr) {
    if (workMs > 0) await new Promise((resolve) => setTimeout(resolve, workMs));
    // Deliveries are at least once: upsert on cdr.id in your own store.
    process.stdout.write(`${JSON.stringify({ id: cdr.id, type: cdr.type, call_id: cdr.event.data.call_id })}\n`);
  },
  onError(error, cdr) {
    process.stderr.write(`consume-cdrs: ${cdr ? `CDR ${cdr.id}: ` : ''}${error?.message ?? error}\n`);
  },
});
