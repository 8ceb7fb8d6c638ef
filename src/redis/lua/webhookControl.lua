--[[
  An operator's change to a subscription's delivery state. Replay (cursor), enable and disable
  (status) bump the generation, so the owner's in-flight writes are refused and it reloads the
  subscription from here. Resetting the counters (to 0 only) and asking for a redrive (the owner
  sees the request count grow and reloads) leave the generation as it is.

  KEYS[1] subscription state hash
  ARGV[1] new cursor, or ''   ARGV[2] new status, or ''
  ARGV[3] '1' to reset posts-count   ARGV[4] '1' to reset error-count   ARGV[5] '1' to request a redrive
  Returns { REPLY.OK, generation }, or { REPLY.NOT_FOUND } when the subscription has no state (deleted).
]]
--- @include "includes/replies"
if redis.call('EXISTS', KEYS[1]) == 0 then
  return { REPLY.NOT_FOUND }
end
if ARGV[3] == '1' then
  redis.call('HSET', KEYS[1], 'posts', 0)
end
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'errors', 0)
end
if ARGV[5] == '1' then
  redis.call('HINCRBY', KEYS[1], 'redrive', 1)
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[1], 'attempts', 0)
  redis.call('HDEL', KEYS[1], 'batchEnd')
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'exhausted', 0, 'attempts', 0)
end
if ARGV[1] == '' and ARGV[2] == '' then
  return { REPLY.OK, redis.call('HGET', KEYS[1], 'gen') }
end
return { REPLY.OK, redis.call('HINCRBY', KEYS[1], 'gen', 1) }
