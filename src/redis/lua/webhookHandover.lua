--[[
  Planned release of a subscription lease, after the owner drained it (no new batch, the
  in-flight post finished and its outcome recorded by webhookRecord.lua). Records why, for the
  next owner's owner_changed event, and either reserves the lease for the planned next owner
  (so no third node takes it in between) or frees it.

  KEYS[1] subscription lease   KEYS[2] subscription state hash
  ARGV[1] token   ARGV[2] reason: rebalance | preferred | shutdown
  ARGV[3] handover value for the next owner (':handover:<node>'), or '' to free the lease
  ARGV[4] ttl of the reservation (ms)
  Returns REPLY.OK, or REPLY.LEASE_NOT_HELD when the lease was not ours any more (nothing changed).
]]
--- @include "includes/fence"
local refusal = fenceRefusal(KEYS[1], ARGV[1])
if refusal then return refusal end
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('HSET', KEYS[2], 'releaseReason', ARGV[2])
end
if ARGV[3] ~= '' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('DEL', KEYS[1])
end
return REPLY.OK
