--[[
  Moves one group's poison entries to its dead-letter stream: pending entries idle for at least
  ARGV[2] ms that were delivered ARGV[3] times or more are copied (with their delivery count and
  last owner), counted and acknowledged, instead of being claimed once more. Pending entries whose
  payload the janitor already dropped under the hard cap (counted as lost there) are acknowledged.
  Run by the hub's sweeper and by the consumer helper; both are safe at once.

  With a consumer (ARGV[7]), the other idle entries of the page are claimed to it in the same call.
  The check and the claim are one step: an entry that reached ARGV[3] deliveries is never claimed
  again, as it could be by an XAUTOCLAIM that came after this scan (its idle time passing the limit
  in between).

  KEYS[1] stream   KEYS[2] dead-letter stream   KEYS[3] counters hash
  ARGV[1] group   ARGV[2] min idle ms   ARGV[3] max deliveries   ARGV[4] start id (inclusive)
  ARGV[5] max pending entries to look at   ARGV[6] dead-letter stream max length (approximate)
  ARGV[7] consumer to claim the rest to, or "" to claim nothing

  Returns {dead-lettered, dropped acks, next start id or "" when the scan reached the end,
  claimed entries as XCLAIM answers them}.
]]
local group, maxDeliveries, count = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[5])
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', ARGV[2], ARGV[4], '+', count)
local claimant = ARGV[7] or ''
local moved, gone = 0, 0
local claimed = {}

for _, item in ipairs(pending) do
  local id, owner, deliveries = item[1], item[2], item[4]
  local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
  if entry == nil then
    redis.call('XACK', KEYS[1], group, id)
    gone = gone + 1
  elseif deliveries >= maxDeliveries then
    local fields = entry[2]
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
      'stream_id', id, 'deliveries', tostring(deliveries), 'consumer', owner, unpack(fields))
    redis.call('XACK', KEYS[1], group, id)
    redis.call('HINCRBY', KEYS[3], group .. ':dead', 1)
    moved = moved + 1
  elseif claimant ~= '' then
    -- A plain XCLAIM (not JUSTID): it counts as a delivery, as XAUTOCLAIM's would.
    local entries = redis.call('XCLAIM', KEYS[1], group, claimant, ARGV[2], id)
    if entries[1] then claimed[#claimed + 1] = entries[1] end
  end
end

local nextStart = ''
if #pending == count then
  local ms, seq = string.match(pending[#pending][1], '^(%d+)-(%d+)$')
  nextStart = ms .. '-' .. tostring(tonumber(seq) + 1)
end
return { moved, gone, nextStart, claimed }
