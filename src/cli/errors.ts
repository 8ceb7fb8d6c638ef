import { HubError, HubUnreachableError } from '@switchboard/client';
import { SwitchboardError } from '../errors.js';

/**
 * The one line the CLI prints for a failure a person can act on: a code and a message, the
 * hub's listed problems, or where the hub was expected. Only a bug (an error none of these
 * describe) keeps its stack trace.
 */
export function describeCliError(error: unknown): string {
  if (error instanceof HubUnreachableError) return `${error.message} (--url, SWITCHBOARD_URL)`;
  if (error instanceof HubError) {
    const details = error.details.map((detail) => `${detail.index === undefined ? '' : `[${detail.index}]`}${detail.path || '/'}: ${detail.message}`);
    const hint = error.status === 401 ? ' (--token, SWITCHBOARD_API_TOKEN)' : '';
    return `${error.code}: ${error.message}${details.length ? `: ${details.join('; ')}` : ''} (HTTP ${error.status})${hint}`;
  }
  if (error instanceof SwitchboardError) return `${error.code}: ${error.message}`;
  return String((error as Error)?.stack ?? error);
}
