--[[
  Sets one bookkeeping field of a subscription's delivery state, fenced like webhookRecord.lua:
  `batchEnd` (the last log entry of the batch about to be posted, so a successor rebuilds the
  same batch with the same webhook-id) or `redriveDone` (redrive requests carried out).

  KEYS[1] subscription lease   KEYS[2] subscription state hash
  ARGV[1] lease token   ARGV[2] generation   ARGV[3] field   ARGV[4] value
  Returns REPLY.OK, or the refusal of includes/fence (LEASE_NOT_HELD, STALE).
]]
--- @include "includes/fence"
local refusal = fenceRefusal(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
if refusal then return refusal end
if ARGV[3] ~= 'batchEnd' and ARGV[3] ~= 'redriveDone' then
  return redis.error_reply('ERR webhookFencedSet: field ' .. ARGV[3] .. ' is not fenced bookkeeping')
end
redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
return REPLY.OK
