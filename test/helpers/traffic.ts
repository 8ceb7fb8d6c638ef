import { postEvents } from './hub.js';
import { cdrEvent } from './integrators.js';

export interface CdrTraffic {
  /** The call ids answered 202, per connection, in the order that connection sent them. */
  acknowledged: string[][];
  /** How many CDRs were answered 202 so far. */
  count(): number;
  /** How many CDRs got another answer or none. */
  readonly refused: number;
  /** Stops every connection after its request in flight. */
  stop(): Promise<void>;
}

/**
 * Steady CDR traffic for failure tests: `lanes` connections, each posting one CDR (id and call id
 * `<prefix>-<lane>-<n>`) and waiting for its answer before the next.
 */
export function startCdrTraffic(hubUrl: string, prefix: string, lanes = 4): CdrTraffic {
  const acknowledged: string[][] = Array.from({ length: lanes }, () => []);
  let refused = 0;
  let sequence = 0;
  let stopped = false;
  const lane = async (index: number) => {
    while (!stopped) {
      const n = ++sequence;
      const callId = `${prefix}-${index}-${n}`;
      const answer = await postEvents(hubUrl, { ...cdrEvent(n, { call_id: callId }), id: callId }).catch(() => undefined);
      if (answer?.status === 202) acknowledged[index]?.push(callId);
      else refused += 1;
    }
  };
  const running = Array.from({ length: lanes }, (_, index) => lane(index));
  return {
    acknowledged,
    count: () => acknowledged.reduce((sum, acks) => sum + acks.length, 0),
    get refused() {
      return refused;
    },
    async stop() {
      stopped = true;
      await Promise.all(running);
    },
  };
}
