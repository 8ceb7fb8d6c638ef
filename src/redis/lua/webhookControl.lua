--[[
  An operator's change to a subscription's delivery (replay, enable, disable): sets the cursor
  and/or status and bumps the generation, so the owner's in-flight writes are refused and it
  reloads the subscription from here.

  KEYS[1] subscription state hash
  ARGV[1] new cursor, or ''   ARGV[2] new status, or ''
  Returns the new generation, or false when the subscription has no state (deleted).
]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return false
end
if ARGV[1] ~= '' then
  redis.call('HSET', KEYS[1], 'cursor', ARGV[1], 'attempts', 0)
end
if ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'status', ARGV[2], 'exhausted', 0, 'attempts', 0)
end
return redis.call('HINCRBY', KEYS[1], 'gen', 1)
