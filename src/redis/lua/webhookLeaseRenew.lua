--[[
  Extends a subscription lease held with this token.

  KEYS[1] subscription lease
  ARGV[1] token   ARGV[2] ttl (ms)
  Returns 1; -6 when another token holds the lease, -7 when no lease exists any more (it expired,
  or a Redis restart without persistence lost it); either way: stop delivering at once.
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder == false then return -7 end
return -6
