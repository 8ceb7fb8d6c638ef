--[[
  Makes a CTI pool's order list hold exactly the configured numbers, each once. Numbers kept
  keep their place; new ones go to the head (offered first). Numbers no longer configured leave
  the list; their live leases run out on their own. Every hub runs it at start; it is idempotent.

  KEYS[1]  order  LIST  every number of the pool, least recently offered first (see ctiAllocate.lua)
  ARGV     the pool's numbers

  Returns the pool size.
]]
local order = KEYS[1]
local wanted = {}
for _, dnis in ipairs(ARGV) do wanted[dnis] = true end

local kept, seen = {}, {}
for _, dnis in ipairs(redis.call('LRANGE', order, 0, -1)) do
  if wanted[dnis] and not seen[dnis] then
    seen[dnis] = true
    table.insert(kept, dnis)
  end
end
local added = {}
for _, dnis in ipairs(ARGV) do
  if not seen[dnis] then
    seen[dnis] = true
    table.insert(added, dnis)
  end
end

local current = redis.call('LLEN', order)
if #added == 0 and #kept == current then return current end
redis.call('DEL', order)
for _, numbers in ipairs({added, kept}) do
  for start = 1, #numbers, 1000 do
    redis.call('RPUSH', order, unpack(numbers, start, math.min(start + 999, #numbers)))
  end
end
return redis.call('LLEN', order)
