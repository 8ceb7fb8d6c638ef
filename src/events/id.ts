import { v7 as uuidv7 } from 'uuid';

/**
 * A new event id: a UUID v7, so ids sort by creation time. Intake gives it to events submitted
 * without one (src/intake/validate.ts), the hub to the events it makes (src/log/hub-events.ts).
 */
export function newEventId(): string {
  return uuidv7();
}
