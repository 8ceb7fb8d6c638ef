import { HubClient } from '@switchboard/client';

/** Defaults of `--url` and `--token`, from the environment (read in main.ts). */
export interface HubCliDefaults {
  url: string;
  token: string | undefined;
}

/** Where the CLI finds the hub's HTTP API. */
export interface HubConnection {
  url: string;
  token?: string;
}

/** One call to the hub's API through the client package; errors are HubError / HubUnreachableError, printed by main.ts. */
export function callHub(connection: HubConnection, method: string, path: string, body?: unknown): Promise<unknown> {
  return new HubClient(connection).request(method, path, body);
}
