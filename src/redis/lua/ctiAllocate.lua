--[[
  Leases a DNIS of one CTI pool to a caller, stores the caller's data under DNIS:ANI and records
  cti.data_stored in the event log, in one atomic step, so hub nodes allocating from the same pool
  at once never hand out a pair in use, and the log never misses or invents a store.

  KEYS[1]  leases  ZSET  "<dnis>:<ani>" -> lease expiry (ms since the epoch); ani "" marks an
                         exclusive lease (withheld ANI)
  KEYS[2]  usage   HASH  dnis -> number of leases on it, or -1 when leased exclusively; a number
                         without leases has no field
  KEYS[3]  order   LIST  every number of the pool, least recently offered first
  KEYS[4]  event log stream

  ARGV[1]  entry key prefix; the entry key is ARGV[1] .. "<dnis>:<ani>". It shares the hash tag of
           KEYS, so the computed key stays in the same Redis Cluster slot.
  ARGV[2]  ani ("" for a withheld ANI: the DNIS is leased exclusively)
  ARGV[3]  ttl (ms)
  ARGV[4]  value (JSON text)
  ARGV[5]  event log max length (approximate)
  ARGV[6]  event id ('' records nothing)   ARGV[7]  event type
  ARGV[8], ARGV[9]  the event JSON before and after the allocated DNIS

  Candidates come from the head of the order list, which each one then moves to the tail
  (LMOVE), so use spreads over the whole pool. A normal ANI may share a DNIS with other ANIs,
  never with an exclusive lease; an exclusive lease needs a DNIS nobody uses. Expired leases are
  released first (their entries have already expired: same instant, PXAT). The entry key lives
  exactly as long as its lease, so SET NX both checks that the pair is free and stores the data.

  Returns {"ok", dnis, expired} | {"exhausted", "", expired} | {"uninitialised", "", expired}
  when the order list is missing (never synced, or Redis lost its data): the caller syncs and
  retries.
]]
local leases, usage, order, log = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local prefix, ani, ttl, value = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local expiresAt = now + ttl
local exclusive = ani == ''

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', '(' .. now)
for _, member in ipairs(expired) do
  local dnis, leasedAni = string.match(member, '^([^:]*):(.*)$')
  if leasedAni == '' or redis.call('HINCRBY', usage, dnis, -1) <= 0 then redis.call('HDEL', usage, dnis) end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', leases, '-inf', '(' .. now) end

local function unlease(dnis)
  if redis.call('HINCRBY', usage, dnis, -1) <= 0 then redis.call('HDEL', usage, dnis) end
end

-- Leases `dnis` when it is eligible; one write also checks eligibility on the usual path.
local function tryLease(dnis)
  local member = dnis .. ':' .. ani
  if exclusive then
    if redis.call('HSETNX', usage, dnis, -1) == 0 then return false end
    redis.call('SET', prefix .. member, value, 'PXAT', expiresAt)
    redis.call('ZADD', leases, expiresAt, member)
    return true
  end
  if redis.call('HINCRBY', usage, dnis, 1) <= 0 then
    redis.call('HSET', usage, dnis, -1) -- it is leased exclusively
    return false
  end
  if not redis.call('SET', prefix .. member, value, 'PXAT', expiresAt, 'NX') then
    unlease(dnis) -- this very pair is in use
    return false
  end
  -- Not new when an entry evicted under memory pressure left its lease behind: count it once.
  if redis.call('ZADD', leases, expiresAt, member) == 0 then unlease(dnis) end
  return true
end

local candidates = nil
local tried = 0
while true do
  local dnis = redis.call('LMOVE', order, order, 'LEFT', 'RIGHT')
  if not dnis then return {'uninitialised', '', #expired} end
  if tryLease(dnis) then
    if ARGV[6] ~= '' then
      redis.call('XADD', log, 'MAXLEN', '~', ARGV[5], '*', 'id', ARGV[6], 'type', ARGV[7], 'event', ARGV[8] .. dnis .. ARGV[9])
    end
    return {'ok', dnis, #expired}
  end
  candidates = candidates or redis.call('LLEN', order)
  tried = tried + 1
  if tried >= candidates then return {'exhausted', '', #expired} end
end
