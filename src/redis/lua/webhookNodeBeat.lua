--[[
  Registers this hub node as live until now + ttl (Redis clock, so client clock skew does not
  matter), forgets expired nodes, and counts the live ones.

  KEYS[1] node registry ZSET
  ARGV[1] node id   ARGV[2] ttl (ms)
  Returns the number of live nodes.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return redis.call('ZCARD', KEYS[1])
