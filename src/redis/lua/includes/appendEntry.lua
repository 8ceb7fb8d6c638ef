--[[
  The one write of an event entry to the event log or an integrators' stream. The entry's layout
  (fields id, type, event) is src/log/codec.ts's: every reader decodes it there, so no script
  names these fields anywhere else (test/lua-scripts.test.ts holds the two to the same names).

  maxLength: approximate cap of the stream, or nil for none.
  Returns the new entry's id.
]]
local function appendEntry(stream, maxLength, eventId, eventType, json)
  if maxLength == nil then
    return redis.call('XADD', stream, '*', 'id', eventId, 'type', eventType, 'event', json)
  end
  return redis.call('XADD', stream, 'MAXLEN', '~', maxLength, '*', 'id', eventId, 'type', eventType, 'event', json)
end

-- appendEntry that answers an error reply (e.g. OOM) instead of raising it, for a caller that
-- must undo its own writes first (uncapped: the caller trims once per call).
local function tryAppendEntry(stream, eventId, eventType, json)
  return redis.pcall('XADD', stream, '*', 'id', eventId, 'type', eventType, 'event', json)
end
