--[[
  Fetches and deletes one CTI entry atomically, releases its DNIS lease and records
  cti.data_fetched in the event log (DELETE /cticache/...).

  KEYS[1]  leases  ZSET  "<dnis>:<ani>" -> lease expiry (see ctiAllocate.lua)
  KEYS[2]  usage   HASH  dnis -> number of leases on it, or -1 when leased exclusively
  KEYS[3]  the entry key
  KEYS[4]  event log stream

  ARGV[1]  lease member "<dnis>:<ani>" ("" ani: exclusive lease)
  ARGV[2..6]  the event, as in ctiFetch.lua

  Returns the entry's value, or nil when it is absent or expired.
]]
local value = redis.call('GETDEL', KEYS[3])
if redis.call('ZREM', KEYS[1], ARGV[1]) == 1 then
  local dnis, ani = string.match(ARGV[1], '^([^:]*):(.*)$')
  if ani == '' or redis.call('HINCRBY', KEYS[2], dnis, -1) <= 0 then redis.call('HDEL', KEYS[2], dnis) end
end
if value and ARGV[3] ~= '' then
  redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[2], '*', 'id', ARGV[3], 'type', ARGV[4], 'event', ARGV[5] .. #value .. ARGV[6])
end
return value
