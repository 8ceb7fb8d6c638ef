import type { RedisClient } from './client.js';
import { evalScript, loadLuaScript, type LoadedScript } from './lua-loader.js';

/** The folder of the hub's scripts (copied beside the compiled code by scripts/copy-assets.mjs). */
const LUA_FOLDER = new URL('./lua/', import.meta.url);

/** A Lua script of ./lua (includes resolved by ./lua-loader.ts), run by EVALSHA with a fallback to EVAL after a Redis restart. */
export class LuaScript {
  private readonly loaded: LoadedScript;

  constructor(readonly name: ScriptName) {
    this.loaded = loadLuaScript(LUA_FOLDER, name);
  }

  /** The script as Redis runs it, every include inlined. */
  get source(): string {
    return this.loaded.source;
  }

  /**
   * Runs the script, then `WAIT replicas timeoutMs` on the same connection: resolves with the
   * reply and how many replicas hold the script's writes.
   */
  runThenWait(client: RedisClient, keys: readonly string[], args: readonly string[], replicas: number, timeoutMs: number): Promise<[unknown, number]> {
    return evalScript(this.loaded, keys, args, (command) => client.sendThenWait(command, replicas, timeoutMs));
  }

  run(client: RedisClient, keys: readonly string[], args: readonly string[]): Promise<unknown> {
    return evalScript(this.loaded, keys, args, (command) => client.sendCommand(command));
  }
}

/** Every script of ./lua (one file each; ./lua/includes holds the parts they share). */
const SCRIPT_NAMES = [
  'appendEvents',
  'countStreamAfter',
  'ctiAllocate',
  'ctiFetch',
  'ctiPoolStatus',
  'ctiRelease',
  'ctiSyncPool',
  'registerIntegrator',
  'relayPush',
  'trimIntegratorStream',
  'unregisterIntegrator',
  'webhookControl',
  'webhookDelete',
  'webhookFencedSet',
  'webhookHandover',
  'webhookLeaseAcquire',
  'webhookLeaseRenew',
  'webhookNodeBeat',
  'webhookNodeLeave',
  'webhookRecord',
  'webhookSave',
] as const;

export type ScriptName = (typeof SCRIPT_NAMES)[number];

/**
 * The one registry of the hub's scripts, each read, resolved and hashed once per process: call
 * sites name a script as `scripts.<name>`, which the compiler checks, never by a string.
 */
export const scripts = Object.fromEntries(SCRIPT_NAMES.map((name) => [name, new LuaScript(name)])) as { readonly [N in ScriptName]: LuaScript };

/**
 * The reply codes of the scripts that refuse (src/redis/lua/includes/replies.lua defines the same
 * names for the Lua side). Positive: done; negative: refused, nothing was written.
 */
export const ScriptReply = {
  OK: 1,
  /** The name or identity is taken (an integrator's name; a subscription identical to another). */
  CONFLICT: -1,
  /** The generation changed (replay, enable, disable) or the subscription was deleted: reload it. */
  STALE: -2,
  /** A CTI pool has no number free for this caller. */
  POOL_EXHAUSTED: -3,
  /** A CTI pool's order list is missing (never synced, or Redis lost its data): sync it and retry. */
  POOL_UNINITIALISED: -4,
  /** The thing to change or remove does not exist. */
  NOT_FOUND: -5,
  /** The subscription's lease is gone or held by another token: stop delivering it at once. */
  LEASE_NOT_HELD: -6,
  /** Renewal found no lease at all (it expired, or a Redis restart lost it): stop delivering at once. */
  LEASE_EXPIRED: -7,
  /** A relay's cursor moved on (another hub relayed the batch): nothing was written. */
  CURSOR_MOVED: -8,
} as const;
export type ScriptReply = (typeof ScriptReply)[keyof typeof ScriptReply];
