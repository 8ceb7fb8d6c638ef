--[[
  Ack-aware retention of the integrators' stream. XTRIM alone ignores consumer groups and drops
  unread entries silently (docs/integrators.md, "Retention and loss accounting"), so the floor is computed here:

  floor = min over groups of (oldest pending id, else last-delivered-id + 1)
          (every entry below it is acknowledged by every group)
  1. trim to min(floor, replay floor): acknowledged entries stay for replay until they age out;
  2. above the alarm length, trim to floor (memory pressure beats the replay window);
  3. above the max length (the hard cap), drop the oldest entries anyway, at most ARGV[4] per call,
     and count per group those it had not acknowledged (undelivered, or pending: they can no
     longer be redelivered) in the counters hash field `<group>:lost`.

  KEYS[1] stream   KEYS[2] counters hash
  ARGV[1] replay floor id   ARGV[2] alarm length   ARGV[3] max length   ARGV[4] max drops per call

  Returns {entries trimmed, length after, backlog (entries at or above the floor; 0 without
           groups), {group, lost, …} for the groups that lost entries in this call}.
]]
local stream, counters = KEYS[1], KEYS[2]
local alarmLength, maxLength, maxDrops = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
if redis.call('EXISTS', stream) == 0 then return { 0, 0, 0, {} } end

local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local function after(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return ms .. '-' .. tostring(tonumber(seq) + 1)
end

local groups = {}
local floor = nil
for _, info in ipairs(redis.call('XINFO', 'GROUPS', stream)) do
  local group = {}
  for i = 1, #info, 2 do group[info[i]] = info[i + 1] end
  local summary = redis.call('XPENDING', stream, group.name)
  local need = summary[1] > 0 and summary[2] or after(group['last-delivered-id'])
  if floor == nil or less(need, floor) then floor = need end
  table.insert(groups, group)
end

local trimmed = 0
local target = ARGV[1]
if floor ~= nil and less(floor, target) then target = floor end
trimmed = trimmed + redis.call('XTRIM', stream, 'MINID', target)

local length = redis.call('XLEN', stream)
if floor ~= nil and length > alarmLength then
  trimmed = trimmed + redis.call('XTRIM', stream, 'MINID', floor)
  length = redis.call('XLEN', stream)
end

local backlog = floor ~= nil and length or 0
local losses = {}
if length > maxLength then
  local drop = math.min(length - maxLength, maxDrops)
  local entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', drop)
  local first, last = entries[1][1], entries[#entries][1]
  for _, group in ipairs(groups) do
    local lost = #redis.call('XPENDING', stream, group.name, first, last, #entries)
    local delivered = group['last-delivered-id']
    for _, entry in ipairs(entries) do
      if less(delivered, entry[1]) then lost = lost + 1 end
    end
    if lost > 0 then
      redis.call('HINCRBY', counters, group.name .. ':lost', lost)
      table.insert(losses, group.name)
      table.insert(losses, lost)
    end
  end
  trimmed = trimmed + redis.call('XTRIM', stream, 'MINID', after(last))
  length = redis.call('XLEN', stream)
end

return { trimmed, length, backlog, losses }
