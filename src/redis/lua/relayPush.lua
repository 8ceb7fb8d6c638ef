--[[
  Pushes a batch of messages relayed from the event log onto a list and advances the relay's
  cursor, in one atomic step: each message lands exactly once, in log order, whichever hub runs
  the relay and however often one crashes. The cursor shares the list's hash tag
  (`{<list>}:…`), so on Redis Cluster both keys are in the list's own slot.

  KEYS[1] the list   KEYS[2] the relay cursor (last log entry id relayed)
  ARGV[1] the cursor the batch starts after ('' = no cursor yet)
  ARGV[2] the log entry id the batch ends at (the new cursor)
  ARGV[3 ..] messages, oldest first (LPUSH: a BRPOP worker takes the oldest first)

  Returns {REPLY.OK, new cursor}, or {REPLY.CURSOR_MOVED, current cursor} when the cursor moved on
  (another hub relayed the batch): nothing is written then.
]]
--- @include "includes/replies"
local current = redis.call('GET', KEYS[2]) or ''
if current ~= ARGV[1] then return { REPLY.CURSOR_MOVED, current } end
if #ARGV > 2 then redis.call('LPUSH', KEYS[1], unpack(ARGV, 3)) end
redis.call('SET', KEYS[2], ARGV[2])
return { REPLY.OK, ARGV[2] }
