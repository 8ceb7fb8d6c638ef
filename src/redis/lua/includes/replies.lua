--[[
  The reply codes of scripts that refuse, by name (src/redis/scripts.ts ScriptReply holds the same
  names and numbers for the hub). Positive: done; negative: refused, nothing was written.
]]
local REPLY = {
  OK = 1,
  STALE = -2,
  POOL_EXHAUSTED = -3,
  POOL_UNINITIALISED = -4,
  LEASE_NOT_HELD = -6,
  LEASE_EXPIRED = -7,
}
