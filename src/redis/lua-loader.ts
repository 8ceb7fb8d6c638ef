import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/**
 * Loads Lua scripts from a folder, BullMQ style: a line `--- @include "includes/<name>"` is
 * replaced by `includes/<name>.lua` from the same folder, once per script (an include that two
 * others include is inlined only the first time), so scripts share parts instead of copying them.
 * Redis runs the result as one script: the parts are resolved here, at load time.
 *
 * Shared by the hub (src/redis/scripts.ts) and @switchboard/client, which gets a copy of this
 * file at build time (packages/client/scripts/copy-shared.mjs): it imports Node built-ins only.
 */
const INCLUDE = /^--- @include "([\w/.-]+)"[ \t]*$/gm;

export interface LoadedScript {
  readonly name: string;
  /** The script with every include inlined: what EVAL sends. */
  readonly source: string;
  readonly sha: string;
}

export function loadLuaScript(folder: URL, name: string): LoadedScript {
  const source = inline(folder, name, new Set());
  return { name, source, sha: createHash('sha1').update(source).digest('hex') };
}

function inline(folder: URL, name: string, included: Set<string>): string {
  const text = readFileSync(new URL(`${name}.lua`, folder), 'utf8');
  return text.replace(INCLUDE, (_line, include: string) => {
    if (included.has(include)) return `-- ${include} (included above)`;
    included.add(include);
    return inline(folder, include, included).trimEnd();
  });
}

/** What running a script needs of a connection: raw commands. */
export interface CommandSender {
  sendCommand(args: string[]): Promise<unknown>;
}

/**
 * Runs `send` with EVALSHA and, when Redis does not know the script (NOSCRIPT: a restart, a
 * failover, SCRIPT FLUSH), once more with EVAL, which also caches it again.
 */
export async function evalScript<T>(script: LoadedScript, keys: readonly string[], args: readonly string[], send: (command: string[]) => Promise<T>): Promise<T> {
  const command = ['EVALSHA', script.sha, String(keys.length), ...keys, ...args];
  try {
    return await send(command);
  } catch (error) {
    if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
    command[0] = 'EVAL';
    command[1] = script.source;
    return send(command);
  }
}
