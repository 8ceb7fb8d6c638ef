import { ValidationError, type ErrorDetail } from '../errors.js';
import { summarize } from '../validation.js';
import type { AcceptedEvent, EventType } from '../events/catalogue.js';
import { checkEvent } from '../events/check.js';
import { newEventId } from '../events/id.js';
import type { Appender, AppendOutcome } from './appender.js';

/** What the emitter of a hub-made event may set; the rest is stamped. */
export interface HubEventOptions {
  /**
   * Deterministic where the emitter can make it so (a PBX event, a live alert): every node or
   * retry that makes the same event gives the same id, and the log's dedup window keeps one.
   * A new UUID v7 otherwise, as intake gives.
   */
  id?: string | undefined;
  /** When it happened; now otherwise. */
  time?: string | undefined;
  /** Who made it (a PBX source's name, `switchboard/<node>`); none otherwise. */
  source?: string | undefined;
  scope?: AcceptedEvent['scope'] | undefined;
}

/** A hub-made event as an emitter describes it. */
export interface HubEventDraft extends HubEventOptions {
  type: EventType;
  data: Record<string, unknown>;
}

declare const checked: unique symbol;
/** An event `HubEvents` stamped and the catalogue accepted: the only kind it appends. */
export type CheckedHubEvent = AcceptedEvent & { readonly [checked]: true };

/**
 * The one door for the events the hub makes itself (source.*, live.alert, subscription.*, cti.*):
 * each is stamped (id, time, source), checked against the catalogue with intake's check
 * (src/events/check.ts), and appended through the hub's single appender, so it gets intake's
 * dedup, ordering, spool and profile fan-out. The CTI scripts write their events themselves, in
 * the same atomic step as the store: they take theirs from `makeHubEvent` (src/cti/events.ts).
 */
export class HubEvents {
  constructor(private readonly appender: Pick<Appender, 'append'>) {}

  /** `make` for a batch: the events the catalogue refuses go to `refused` with their problems, the rest come back in order. */
  makeAll(drafts: readonly HubEventDraft[], refused: (draft: HubEventDraft, problems: ErrorDetail[]) => void): CheckedHubEvent[] {
    const made: CheckedHubEvent[] = [];
    for (const draft of drafts) {
      const { event, problems } = stampAndCheck(draft.type, draft.data, draft);
      if (event) made.push(event);
      else refused(draft, problems);
    }
    return made;
  }

  /** Makes one event and appends it; refused by the catalogue, it rejects with the ValidationError and nothing is appended. */
  async emit(type: EventType, data: Record<string, unknown>, options?: HubEventOptions): Promise<AppendOutcome> {
    return this.appender.append([makeHubEvent(type, data, options)]);
  }

  /** Appends events `makeAll` or `makeHubEvent` returned, in order, as one batch. */
  append(events: CheckedHubEvent[]): Promise<AppendOutcome> {
    return this.appender.append(events);
  }
}

/**
 * Stamps one hub-made event and checks it against the catalogue; throws a ValidationError naming
 * every problem when the catalogue refuses it.
 */
export function makeHubEvent(type: EventType, data: Record<string, unknown>, options: HubEventOptions = {}): CheckedHubEvent {
  const { event, problems } = stampAndCheck(type, data, options);
  if (!event) throw refusal(type, problems);
  return event;
}

/** The stamped event when the catalogue accepts it; its problems otherwise. */
function stampAndCheck(type: EventType, data: Record<string, unknown>, options: HubEventOptions): { event?: CheckedHubEvent; problems: ErrorDetail[] } {
  const event = stamp(type, data, options);
  const problems = checkEvent(event, 0);
  return problems.length > 0 ? { problems } : { event: event as CheckedHubEvent, problems };
}

/**
 * The envelope in the order the log stores it: id, type, time, source, scope, data. Built field
 * by field: object spreads here cost the CTI hot path (src/cti/events.ts) several times the check.
 */
function stamp(type: EventType, data: Record<string, unknown>, { id, time, source, scope }: HubEventOptions): AcceptedEvent {
  const event = { id: id ?? newEventId(), type, time: time ?? new Date().toISOString() } as AcceptedEvent;
  if (source !== undefined) event.source = source;
  if (scope !== undefined) event.scope = scope;
  event.data = data;
  return event;
}

function refusal(type: string, problems: ErrorDetail[]): ValidationError {
  return new ValidationError(`hub event ${type} refused by the catalogue: ${summarize(problems)}`, { details: problems.map(({ path, message }) => ({ path, message })) });
}
