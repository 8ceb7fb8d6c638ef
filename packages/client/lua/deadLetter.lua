--[[
  Moves one group's poison entries to its dead-letter stream: pending entries idle for at least
  ARGV[2] ms that were delivered ARGV[3] times or more are copied (with their delivery count and
  last owner), counted and acknowledged, instead of being claimed once more. Pending entries whose
  payload the janitor already dropped under the hard cap (counted as lost there) are acknowledged.
  Run by the hub's sweeper and by the consumer helper before it claims; both are safe at once.

  KEYS[1] stream   KEYS[2] dead-letter stream   KEYS[3] counters hash
  ARGV[1] group   ARGV[2] min idle ms   ARGV[3] max deliveries   ARGV[4] start id (inclusive)
  ARGV[5] max pending entries to look at   ARGV[6] dead-letter stream max length (approximate)

  Returns {dead-lettered, dropped acks, next start id or "" when the scan reached the end}.
]]
local group, maxDeliveries, count = ARGV[1], tonumber(ARGV[3]), tonumber(ARGV[5])
local pending = redis.call('XPENDING', KEYS[1], group, 'IDLE', ARGV[2], ARGV[4], '+', count)
local moved, gone = 0, 0

for _, item in ipairs(pending) do
  local id, consumer, deliveries = item[1], item[2], item[4]
  local entry = redis.call('XRANGE', KEYS[1], id, id)[1]
  if entry == nil then
    redis.call('XACK', KEYS[1], group, id)
    gone = gone + 1
  elseif deliveries >= maxDeliveries then
    local fields = entry[2]
    redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], '*',
      'stream_id', id, 'deliveries', tostring(deliveries), 'consumer', consumer, unpack(fields))
    redis.call('XACK', KEYS[1], group, id)
    redis.call('HINCRBY', KEYS[3], group .. ':dead', 1)
    moved = moved + 1
  end
end

local nextStart = ''
if #pending == count then
  local ms, seq = string.match(pending[#pending][1], '^(%d+)-(%d+)$')
  nextStart = ms .. '-' .. tostring(tonumber(seq) + 1)
end
return { moved, gone, nextStart }
