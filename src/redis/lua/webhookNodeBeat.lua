--[[
  Heartbeat of one hub node in the webhook node registry, on the Redis clock (client clocks may
  be skewed). Forgets nodes whose heartbeat expired. A node that was not registered (new, or gone
  longer than its ttl) becomes eligible to take subscriptions after its own stable period; one
  that beats again within its ttl (a restart under the same nodeId included) keeps its standing.

  KEYS[1] node expiry ZSET (member nodeId, score = expiry ms)
  KEYS[2] node eligibility HASH (nodeId -> when it has been live for its stable period, ms)
  ARGV[1] node id   ARGV[2] ttl (ms)   ARGV[3] stable period (ms)
  Returns { now, nodeId, eligibleAt, expiry, nodeId, eligibleAt, expiry, ... } for every live node.
]]
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expired = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now)
for _, node in ipairs(expired) do
  redis.call('ZREM', KEYS[1], node)
  redis.call('HDEL', KEYS[2], node)
end
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) or redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then
  redis.call('HSET', KEYS[2], ARGV[1], now + tonumber(ARGV[3]))
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
local reply = { now }
local live = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for index = 1, #live, 2 do
  reply[#reply + 1] = live[index]
  reply[#reply + 1] = tonumber(redis.call('HGET', KEYS[2], live[index]) or now)
  reply[#reply + 1] = tonumber(live[index + 1])
end
return reply
