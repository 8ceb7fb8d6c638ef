--[[
  Appends a batch of accepted events to the event log, in order, and fans each one out to its
  channel outputs in the same atomic step: a retry after an unknown outcome (timeout, dropped
  socket, spool replay) finds the dedup key and delivers nothing twice.

  KEYS[1]           event log stream
  KEYS[2 .. n+1]    dedup key of event i
  KEYS[n+2 ..]      output keys (lists, streams), referenced by index from the outputs

  ARGV[1] dedup window (ms)   ARGV[2] log max length (approximate)   ARGV[3] n
  then per event:  id, type, event JSON, output count,
  then per output: op, target, message
    P  PUBLISH to channel `target`
    L  LPUSH to KEYS[target]
    X  XADD to KEYS[target] with fields id, type, event=message

  Returns, per event, its log entry id, or false when the id was seen inside the dedup window.
]]
local dedupWindowMs = ARGV[1]
local logMaxLength = ARGV[2]
local count = tonumber(ARGV[3])
local results = {}
local arg = 4

for i = 1, count do
  local eventId, eventType, body = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2]
  local outputs = tonumber(ARGV[arg + 3])
  arg = arg + 4
  local dedupKey = KEYS[1 + i]

  if redis.call('EXISTS', dedupKey) == 1 then
    results[i] = false
    arg = arg + outputs * 3
  else
    local entryId = redis.call('XADD', KEYS[1], 'MAXLEN', '~', logMaxLength, '*',
      'id', eventId, 'type', eventType, 'event', body)
    for _ = 1, outputs do
      local op, target, message = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2]
      arg = arg + 3
      if op == 'P' then
        redis.call('PUBLISH', target, message)
      elseif op == 'L' then
        redis.call('LPUSH', KEYS[tonumber(target)], message)
      elseif op == 'X' then
        redis.call('XADD', KEYS[tonumber(target)], '*', 'id', eventId, 'type', eventType, 'event', message)
      else
        return redis.error_reply('ERR unknown output op ' .. tostring(op))
      end
    end
    redis.call('SET', dedupKey, entryId, 'PX', dedupWindowMs)
    results[i] = entryId
  end
end

return results
