--[[
  Extends a webhook slot lease held with this token.

  KEYS[1] lease
  ARGV[1] token   ARGV[2] ttl (ms)
  Returns 1, or 0 when the lease is gone or held by another token (stop dispatching the slot).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
