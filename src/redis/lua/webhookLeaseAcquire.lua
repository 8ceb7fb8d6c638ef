--[[
  Acquires the lease of one subscription (docs/webhooks.md, "Leases and fencing": one lease per subscription so
  that placement balances subscriptions). Allowed when the lease is free (released, or expired
  after its owner crashed), handed over to this node, or held under this node's own id by an
  earlier process (a restart within the ttl keeps what it had). The returned token
  "<node>:<epoch>" fences every later write; a new token also fences out that earlier process.

  KEYS[1] subscription lease   KEYS[2] slot epoch counter   KEYS[3] subscription state hash
  ARGV[1] node id   ARGV[2] ttl (ms)   ARGV[3] handover value for this node (':handover:<node>')
  Returns { REPLY.OK, token, previous owner or '', reason } where reason is the releasing owner's
  (rebalance | preferred | shutdown) or 'failover' when the lease expired;
  { REPLY.LEASE_NOT_HELD } when another node holds the lease; { REPLY.STALE } when the
  subscription has no state (deleted).
]]
--- @include "includes/replies"
if redis.call('EXISTS', KEYS[3]) == 0 then
  return { REPLY.STALE }
end
local current = redis.call('GET', KEYS[1])
if current and current ~= ARGV[3] and string.sub(current, 1, #ARGV[1] + 1) ~= ARGV[1] .. ':' then
  return { REPLY.LEASE_NOT_HELD }
end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
local previous = redis.call('HGET', KEYS[3], 'owner') or ''
local reason = redis.call('HGET', KEYS[3], 'releaseReason') or 'failover'
redis.call('HSET', KEYS[3], 'owner', ARGV[1])
redis.call('HDEL', KEYS[3], 'releaseReason')
if previous == ARGV[1] then
  previous = ''
end
return { REPLY.OK, token, previous, reason }
