import { LuaScript } from '../redis/scripts.js';

/** Every webhook Lua script, read and hashed once per process and shared by all stores and workers. */
export const webhookScripts = {
  save: new LuaScript('webhookSave'),
  delete: new LuaScript('webhookDelete'),
  control: new LuaScript('webhookControl'),
  record: new LuaScript('webhookRecord'),
  fencedSet: new LuaScript('webhookFencedSet'),
  nodeBeat: new LuaScript('webhookNodeBeat'),
  nodeLeave: new LuaScript('webhookNodeLeave'),
  leaseAcquire: new LuaScript('webhookLeaseAcquire'),
  leaseRenew: new LuaScript('webhookLeaseRenew'),
  handover: new LuaScript('webhookHandover'),
} as const;

/** Reply codes of the fenced webhook scripts (negative: refused, nothing was written). */
export const ScriptReply = {
  OK: 1,
  /** The subscription's lease is gone or held by another token: stop delivering it at once. */
  LEASE_NOT_HELD: -6,
  /** Renewal found no lease at all (it expired, or Redis lost it in a restart): stop delivering at once. */
  LEASE_EXPIRED: -7,
  /** The generation changed (replay, enable, disable) or the subscription was deleted: reload it. */
  STALE: -2,
} as const;
export type ScriptReply = (typeof ScriptReply)[keyof typeof ScriptReply];
