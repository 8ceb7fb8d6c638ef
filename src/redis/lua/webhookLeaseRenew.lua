--[[
  Extends a subscription lease held with this token.

  KEYS[1] subscription lease
  ARGV[1] token   ARGV[2] ttl (ms)
  Returns REPLY.OK; LEASE_NOT_HELD when another token holds the lease, LEASE_EXPIRED when no lease
  exists any more (it expired, or a Redis restart without persistence lost it); either way: stop
  delivering at once.
]]
--- @include "includes/replies"
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return REPLY.OK
end
if holder == false then return REPLY.LEASE_EXPIRED end
return REPLY.LEASE_NOT_HELD
