--[[
  A hub node leaves the webhook node registry (planned shutdown): the other nodes stop placing
  subscriptions on it at once instead of waiting for its heartbeat to expire.

  KEYS[1] node expiry ZSET   KEYS[2] node eligibility HASH
  ARGV[1] node id
  Returns 1.
]]
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
return 1
