--[[
  Leases a DNIS of one CTI pool to a caller and stores the caller's data under DNIS:ANI, in one
  atomic step, so hub nodes allocating from the same pool at once never hand out a pair in use.

  KEYS[1]  leases  ZSET  "<dnis>:<ani>" -> lease expiry (ms since the epoch); ani "" marks an
                         exclusive lease (withheld ANI)
  KEYS[2]  usage   HASH  dnis -> number of leases on it, or -1 when leased exclusively
  KEYS[3]  order   ZSET  every number of the pool -> allocation sequence (lowest: least recently used)

  ARGV[1]  entry key prefix; the entry key is ARGV[1] .. "<dnis>:<ani>". It shares the hash tag of
           KEYS, so the computed key stays in the same Redis Cluster slot.
  ARGV[2]  ani ("" for a withheld ANI: the DNIS is leased exclusively)
  ARGV[3]  ttl (ms)
  ARGV[4]  value (JSON text)

  Expired leases are released first (their entries have already expired: same instant, PXAT).
  A normal ANI may share a DNIS with other ANIs, never with an exclusive lease; an exclusive lease
  needs a DNIS nobody uses. The least recently allocated eligible number wins, to spread use.

  Returns {"ok", dnis, expired} | {"exhausted", "", expired} | {"uninitialised", "", 0} when the
  order ZSET is missing (never synced, or Redis lost its data): the caller syncs and retries.
]]
local leases, usage, order = KEYS[1], KEYS[2], KEYS[3]
local prefix, ani, ttl, value = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]

if redis.call('EXISTS', order) == 0 then return {'uninitialised', '', 0} end

local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', leases, '-inf', '(' .. now)
for _, member in ipairs(expired) do
  local dnis, leasedAni = string.match(member, '^([^:]*):(.*)$')
  if leasedAni == '' or redis.call('HINCRBY', usage, dnis, -1) <= 0 then redis.call('HDEL', usage, dnis) end
end
if #expired > 0 then redis.call('ZREMRANGEBYSCORE', leases, '-inf', '(' .. now) end

local exclusive = ani == ''
-- Usually the least recently used number is free: read a few first, more while none is.
local start, batch = 0, 4
while true do
  local numbers = redis.call('ZRANGE', order, start, start + batch - 1)
  if #numbers == 0 then break end
  for _, dnis in ipairs(numbers) do
    local used = tonumber(redis.call('HGET', usage, dnis) or '0')
    local member = dnis .. ':' .. ani
    local eligible
    if exclusive then
      eligible = used == 0
    else
      eligible = used >= 0 and not redis.call('ZSCORE', leases, member)
    end
    if eligible then
      local expiresAt = now + ttl
      redis.call('ZADD', leases, expiresAt, member)
      redis.call('HSET', usage, dnis, exclusive and -1 or used + 1)
      local last = redis.call('ZRANGE', order, -1, -1, 'WITHSCORES')
      redis.call('ZADD', order, tonumber(last[2]) + 1, dnis)
      redis.call('SET', prefix .. member, value, 'PXAT', expiresAt)
      return {'ok', dnis, #expired}
    end
  end
  start = start + batch
  batch = math.min(batch * 4, 1024)
end
return {'exhausted', '', #expired}
