--[[
  Acquires a webhook slot lease when nobody holds it (redis-and-style.md §A3). The returned token
  "<node>:<epoch>" is the fencing token: every later write for the slot must present it.

  KEYS[1] lease   KEYS[2] epoch counter
  ARGV[1] node id   ARGV[2] ttl (ms)
  Returns the token, or false when the lease is held.
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return false
end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
