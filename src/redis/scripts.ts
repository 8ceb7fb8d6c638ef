import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RedisClient } from './client.js';

/** A Lua script from ./lua, run by EVALSHA with a fallback to EVAL after a Redis restart (NOSCRIPT). */
export class LuaScript {
  readonly name: string;
  private readonly source: string;
  private readonly sha: string;

  constructor(name: string) {
    this.name = name;
    this.source = readFileSync(new URL(`./lua/${name}.lua`, import.meta.url), 'utf8');
    this.sha = createHash('sha1').update(this.source).digest('hex');
  }

  /**
   * Runs the script, then `WAIT replicas timeoutMs` on the same connection: resolves with the
   * reply and how many replicas hold the script's writes.
   */
  async runThenWait(client: RedisClient, keys: readonly string[], args: readonly string[], replicas: number, timeoutMs: number): Promise<[unknown, number]> {
    const command = ['EVALSHA', this.sha, String(keys.length), ...keys, ...args];
    try {
      return await client.sendThenWait(command, replicas, timeoutMs);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      command[0] = 'EVAL';
      command[1] = this.source;
      return client.sendThenWait(command, replicas, timeoutMs);
    }
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const command = ['EVALSHA', this.sha, String(keys.length), ...keys, ...args];
    try {
      return await client.sendCommand(command);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      command[0] = 'EVAL';
      command[1] = this.source;
      return client.sendCommand(command);
    }
  }
}
