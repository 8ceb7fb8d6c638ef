--[[
  Leases a DNIS of one CTI pool to a caller, stores the caller's data under DNIS:ANI and records
  cti.data_stored in the event log, in one atomic step, so hub nodes allocating from the same pool
  at once never hand out a pair in use, and the log never misses or invents a store.

  KEYS[1]  order  LIST  every number of the pool, least recently offered first
  KEYS[2]  event log stream

  ARGV[1]  busy key prefix: ARGV[1] .. dnis counts the DNIS's leases, or is -1 while it is leased
           exclusively; it expires with the last of them
  ARGV[2]  entry key prefix: ARGV[2] .. "<dnis>:<ani>" holds the caller's data (the lease)
           Both computed keys share the hash tag of KEYS, so they stay in the same Cluster slot.
  ARGV[3]  ani ("" for a withheld ANI: the DNIS is leased exclusively)
  ARGV[4]  ttl (ms)
  ARGV[5]  value (JSON text)
  ARGV[6]  event log max length (approximate)
  ARGV[7]  event id ('' records nothing)   ARGV[8]  event type
  ARGV[9], ARGV[10]  the event JSON before and after the allocated DNIS (made and checked
           against the catalogue by src/cti/events.ts)

  Candidates come from the head of the order list, and each moves to the tail (LMOVE), so use
  spreads over the whole pool. A normal ANI may share a DNIS with other ANIs, never with an
  exclusive lease; an exclusive lease needs a DNIS nobody uses. SET NX on the entry both checks
  that the pair is free and stores the data. The busy count only grows by allocation and shrinks
  by DELETE (ctiRelease.lua), never by an entry's expiry, so it is never below the live leases:
  a DNIS never looks free while in use (it may look busy until its last lease would have ended).

  Returns {REPLY.OK, dnis} | {REPLY.POOL_EXHAUSTED} | {REPLY.POOL_UNINITIALISED} when the order
  list is missing (never synced, or Redis lost its data): the caller syncs and retries.
]]
--- @include "includes/replies"
--- @include "includes/appendEntry"
local order, log = KEYS[1], KEYS[2]
local busyPrefix, entryPrefix, ani, ttl, value = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local exclusive = ani == ''

-- Leases `dnis` when it is eligible; on the usual path the writes themselves are the checks.
local function tryLease(dnis)
  local busy = busyPrefix .. dnis
  local entry = entryPrefix .. dnis .. ':' .. ani
  if exclusive then
    if not redis.call('SET', busy, -1, 'PX', ttl, 'NX') then return false end
    redis.call('SET', entry, value, 'PX', ttl)
    return true
  end
  local leases = redis.call('INCR', busy)
  if leases <= 0 then
    redis.call('DECR', busy) -- leased exclusively (INCR and DECR keep its expiry)
    return false
  end
  if not redis.call('SET', entry, value, 'PX', ttl, 'NX') then
    if redis.call('DECR', busy) <= 0 then redis.call('DEL', busy) end -- this very pair is in use
    return false
  end
  -- A new count has no expiry yet; an existing one is only ever extended (a pool's ttl may change).
  if leases == 1 then redis.call('PEXPIRE', busy, ttl) else redis.call('PEXPIRE', busy, ttl, 'GT') end
  return true
end

local candidates = nil
local tried = 0
while true do
  local dnis = redis.call('LMOVE', order, order, 'LEFT', 'RIGHT')
  if not dnis then return { REPLY.POOL_UNINITIALISED } end
  if tryLease(dnis) then
    if ARGV[7] ~= '' then
      appendEntry(log, ARGV[6], ARGV[7], ARGV[8], ARGV[9] .. dnis .. ARGV[10])
    end
    return { REPLY.OK, dnis }
  end
  candidates = candidates or redis.call('LLEN', order)
  tried = tried + 1
  if tried >= candidates then return { REPLY.POOL_EXHAUSTED } end
end
