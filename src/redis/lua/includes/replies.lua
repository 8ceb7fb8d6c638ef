--[[
  The reply codes of scripts that may refuse, by name (src/redis/scripts.ts ScriptReply holds the
  same names and numbers for the hub). Positive: done; negative: refused, nothing was written. A
  script that answers data as well answers { code, data... }.
]]
local REPLY = {
  OK = 1,
  CONFLICT = -1,
  STALE = -2,
  POOL_EXHAUSTED = -3,
  POOL_UNINITIALISED = -4,
  NOT_FOUND = -5,
  LEASE_NOT_HELD = -6,
  LEASE_EXPIRED = -7,
  CURSOR_MOVED = -8,
}
