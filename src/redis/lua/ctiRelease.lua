--[[
  Fetches and deletes one CTI entry atomically, releases its lease on the DNIS and records
  cti.data_fetched in the event log (DELETE /cticache/...).

  KEYS[1]  the entry key
  KEYS[2]  the DNIS's busy key (see ctiAllocate.lua)
  KEYS[3]  event log stream

  ARGV[1]  "1" when the entry's ANI is withheld (its lease is exclusive), else "0"
  ARGV[2..6]  the event, as in ctiFetch.lua

  Returns the entry's value, or nil when it is absent or expired (an expired lease is not
  counted down: the busy key runs out with the DNIS's last lease).
]]
--- @include "includes/appendEntry"
local value = redis.call('GETDEL', KEYS[1])
if value then
  if ARGV[1] == '1' or redis.call('DECR', KEYS[2]) <= 0 then redis.call('DEL', KEYS[2]) end
  if ARGV[3] ~= '' then
    appendEntry(KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[5] .. #value .. ARGV[6])
  end
end
return value
