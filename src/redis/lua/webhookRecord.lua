--[[
  Records one delivery attempt of a subscription's batch, fenced by its lease and by the
  subscription's generation (a replay or a status change bumps it): counters, status, cursor
  advance on success, failed-delivery bookkeeping, in one atomic step.

  KEYS[1] subscription lease   KEYS[2] subscription state hash   KEYS[3] failed deliveries stream
  ARGV[1] lease token            ARGV[2] generation
  ARGV[3] outcome: ok | error    ARGV[4] new cursor, or ''
  ARGV[5] new status, or ''      ARGV[6] failed batch JSON to keep, or ''
  ARGV[7] failed entry id to delete (a redriven batch that succeeded), or ''
  ARGV[8] consecutive exhausted batches   ARGV[9] last error, or ''
  ARGV[10] failed attempts of the batch at the cursor so far (a successor resumes the schedule)
  Returns REPLY.OK, or the refusal of includes/fence: LEASE_NOT_HELD (stop delivering), STALE
  (the generation changed or the subscription was deleted: reload it).
]]
--- @include "includes/fence"
local refusal = fenceRefusal(KEYS[1], ARGV[1], KEYS[2], ARGV[2])
if refusal then return refusal end
redis.call('HINCRBY', KEYS[2], 'posts', 1)
if ARGV[3] ~= 'ok' then
  redis.call('HINCRBY', KEYS[2], 'errors', 1)
end
if ARGV[4] ~= '' then
  redis.call('HSET', KEYS[2], 'cursor', ARGV[4])
  redis.call('HDEL', KEYS[2], 'batchEnd')
end
if ARGV[5] ~= '' then
  redis.call('HSET', KEYS[2], 'status', ARGV[5])
end
if ARGV[6] ~= '' then
  redis.call('XADD', KEYS[3], '*', 'batch', ARGV[6])
end
if ARGV[7] ~= '' then
  redis.call('XDEL', KEYS[3], ARGV[7])
end
redis.call('HSET', KEYS[2], 'exhausted', ARGV[8], 'attempts', ARGV[10])
if ARGV[9] ~= '' then
  redis.call('HSET', KEYS[2], 'lastError', ARGV[9])
end
return REPLY.OK
