--[[
  Makes a CTI pool's order ZSET hold exactly the configured numbers: adds new ones as least
  recently used (score 0, existing scores kept) and removes numbers no longer configured (their
  live leases run out on their own). Every hub runs it at start; it is idempotent.

  KEYS[1]  order  ZSET  every number of the pool -> allocation sequence (see ctiAllocate.lua)
  ARGV     the pool's numbers

  Returns the pool size.
]]
local order = KEYS[1]
local wanted = {}
for _, dnis in ipairs(ARGV) do wanted[dnis] = true end
for _, dnis in ipairs(redis.call('ZRANGE', order, 0, -1)) do
  if not wanted[dnis] then redis.call('ZREM', order, dnis) end
end
for start = 1, #ARGV, 1000 do
  local args = {}
  for i = start, math.min(start + 999, #ARGV) do
    args[#args + 1] = 0
    args[#args + 1] = ARGV[i]
  end
  redis.call('ZADD', order, 'NX', unpack(args))
end
return redis.call('ZCARD', order)
