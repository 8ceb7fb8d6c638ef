--[[
  Counts the entries of a stream after an id, up to a cap: a consumer group's undelivered entries
  when XINFO GROUPS cannot tell (its `lag` is nil after trims and for groups created at `$` on 7.0).
  Bounded work: at most ARGV[2] entries are visited.

  KEYS[1] stream   ARGV[1] id (exclusive)   ARGV[2] cap
  Returns the count, at most the cap.
]]
local cap = tonumber(ARGV[2])
local start = '(' .. ARGV[1]
local counted = 0
while counted < cap do
  local page = redis.call('XRANGE', KEYS[1], start, '+', 'COUNT', math.min(1000, cap - counted))
  counted = counted + #page
  if #page == 0 then break end
  start = '(' .. page[#page][1]
end
return counted
