--[[
  Removes a subscription from the registry and announces it on the change feed.

  KEYS[1] definition hash   KEYS[2] identities hash   KEYS[3] all-ids set
  KEYS[4] domain index set  KEYS[5] change feed stream
  ARGV[1] id   ARGV[2] identity
  Returns REPLY.OK, or REPLY.NOT_FOUND when there was no such subscription.
]]
--- @include "includes/replies"
if redis.call('DEL', KEYS[1]) == 0 then
  return REPLY.NOT_FOUND
end
if redis.call('HGET', KEYS[2], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[2], ARGV[2])
end
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
redis.call('XADD', KEYS[5], 'MAXLEN', '~', 10000, '*', 'id', ARGV[1])
return REPLY.OK
