--[[
  Removes an integrator and everything it owned: registry entry, consumer group (its pending
  entries are forgotten, which may let the janitor trim them), legacy list, dead letters, counters.

  KEYS[1] registry hash   KEYS[2] stream   KEYS[3] dead-letter stream   KEYS[4] legacy list
  KEYS[5] counters hash
  ARGV[1] name   ARGV[2] "1" when KEYS[2] is the integrator's own stream (deleted whole)

  Returns REPLY.OK, or REPLY.NOT_FOUND when no such integrator exists.
]]
--- @include "includes/replies"
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return REPLY.NOT_FOUND end
if ARGV[2] == '1' then
  redis.call('DEL', KEYS[2])
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('XGROUP', 'DESTROY', KEYS[2], ARGV[1])
end
redis.call('DEL', KEYS[3], KEYS[4])
redis.call('HDEL', KEYS[5], ARGV[1] .. ':dead', ARGV[1] .. ':lost')
return REPLY.OK
