--[[
  Fetches one CTI entry and records cti.data_fetched in the event log when it is found
  (GET /cticache/...), in one atomic step.

  KEYS[1]  the entry key
  KEYS[2]  event log stream

  ARGV[1]  event log max length (approximate)
  ARGV[2]  event id ('' records nothing)   ARGV[3]  event type
  ARGV[4], ARGV[5]  the event JSON before and after the value's size in bytes (made and
           checked against the catalogue by src/cti/events.ts)

  Returns the entry's value, or nil when it is absent or expired.
]]
--- @include "includes/appendEntry"
local value = redis.call('GET', KEYS[1])
if value and ARGV[2] ~= '' then
  appendEntry(KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4] .. #value .. ARGV[5])
end
return value
