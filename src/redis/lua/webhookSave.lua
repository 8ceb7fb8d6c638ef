--[[
  Creates or updates a subscription definition in the registry, refusing one identical to another
  (same model, post-url and scope: NetSapiens answers 409), and keeps the per-domain index and
  the change feed that other hub nodes follow.

  KEYS[1] definition hash   KEYS[2] identities hash (identity -> id)   KEYS[3] all-ids set
  KEYS[4] new domain index set   KEYS[5] old domain index set (= KEYS[4] when unchanged)
  KEYS[6] change feed stream
  ARGV[1] id   ARGV[2] definition JSON   ARGV[3] new identity   ARGV[4] old identity, or '' to create
  Returns { REPLY.OK }, { REPLY.CONFLICT, id of the identical subscription }, or { REPLY.NOT_FOUND }
  when the subscription to update is gone.
]]
--- @include "includes/replies"
local holder = redis.call('HGET', KEYS[2], ARGV[3])
if holder and holder ~= ARGV[1] then
  return { REPLY.CONFLICT, holder }
end
if ARGV[4] == '' then
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return { REPLY.CONFLICT, ARGV[1] }
  end
else
  if redis.call('EXISTS', KEYS[1]) == 0 then
    return { REPLY.NOT_FOUND }
  end
  if ARGV[4] ~= ARGV[3] then
    redis.call('HDEL', KEYS[2], ARGV[4])
  end
  redis.call('SREM', KEYS[5], ARGV[1])
end
redis.call('HSET', KEYS[1], 'def', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], ARGV[1])
redis.call('SADD', KEYS[3], ARGV[1])
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('XADD', KEYS[6], 'MAXLEN', '~', 10000, '*', 'id', ARGV[1])
return { REPLY.OK }
