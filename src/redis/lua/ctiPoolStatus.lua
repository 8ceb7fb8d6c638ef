--[[
  Releases expired CTI leases of one pool (as ctiAllocate.lua does) and reports its use.

  KEYS[1]  leases  ZSET  "<dnis>:<ani>" -> lease expiry (see ctiAllocate.lua)
  KEYS[2]  usage   HASH  dnis -> number of leases on it, or -1 when leased exclusively

  Returns {numbers in use, leases, leases expired by this call}.
]]
local leases, usage = KEYS[1], KEYS[2]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', '(' .. now)
for _, member in ipairs(expired) do
  local dnis, ani = string.match(member, '^([^:]*):(.*)$')
  if ani == '' or redis.call('HINCRBY', usage, dnis, -1) <= 0 then redis.call('HDEL', usage, dnis) end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', leases, '-inf', '(' .. now) end

return {redis.call('HLEN', usage), redis.call('ZCARD', leases), #expired}
