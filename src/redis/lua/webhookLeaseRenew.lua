--[[
  Extends a subscription lease held with this token.

  KEYS[1] subscription lease
  ARGV[1] token   ARGV[2] ttl (ms)
  Returns 1, or -6 when the lease is gone or held by another token (stop delivering at once).
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return -6
