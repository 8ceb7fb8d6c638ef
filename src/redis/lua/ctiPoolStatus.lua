--[[
  Counts the numbers of one CTI pool in use: those whose busy key exists (see ctiAllocate.lua).

  KEYS[1]  order  LIST  every number of the pool
  ARGV[1]  busy key prefix; the computed keys share the hash tag of KEYS[1]

  Returns the count. Cost grows with the pool (one EXISTS per 1,000 numbers); the hub asks at
  most once a second.
]]
local numbers = redis.call('LRANGE', KEYS[1], 0, -1)
local inUse = 0
for start = 1, #numbers, 1000 do
  local keys = {}
  for i = start, math.min(start + 999, #numbers) do keys[#keys + 1] = ARGV[1] .. numbers[i] end
  inUse = inUse + redis.call('EXISTS', unpack(keys))
end
return inUse
