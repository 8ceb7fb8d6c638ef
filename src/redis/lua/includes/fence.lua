--[[
  The fence of a subscription's writes (docs/webhooks.md, "Leases and fencing"): a write is
  allowed only with the lease's current token and, when a generation is given, at the
  subscription's current generation (a replay or a status change bumps it; a deleted
  subscription has none).

  Returns nil when the write may go ahead, else the refusal to return as it is:
  REPLY.LEASE_NOT_HELD (stop delivering) or REPLY.STALE (reload the subscription).
]]
--- @include "includes/replies"
local function fenceRefusal(leaseKey, token, stateKey, generation)
  if redis.call('GET', leaseKey) ~= token then return REPLY.LEASE_NOT_HELD end
  if generation ~= nil and redis.call('HGET', stateKey, 'gen') ~= generation then return REPLY.STALE end
  return nil
end
