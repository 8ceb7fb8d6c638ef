--[[
  Appends a batch of accepted events to the event log, in order, and fans each one out to its
  channel outputs in the same atomic step: a retry after an unknown outcome (timeout, dropped
  socket, spool replay) finds the dedup key and writes nothing twice.

  The dedup key holds the acceptance token of the attempt that wrote the event. A retry carrying
  the same token is our own in-doubt write that did land; its Pub/Sub messages are published
  again, because they die with the reply when Redis stops (lists and streams are durable and are
  not touched). A different token is a client re-submitting the id: nothing is delivered.

  Writers pipeline several calls on one connection. The fence keeps them in order even when one
  fails: a call names the batch sent before it on this writer's chain and is refused (FENCED,
  nothing written) unless that batch landed whole; '' starts a new chain.

  KEYS[1]           event log stream
  KEYS[2]           this writer's fence (the last batch id that landed whole)
  KEYS[3 .. n+2]    dedup key of event i
  KEYS[n+3 ..]      output keys (lists, streams), referenced by index from the outputs

  ARGV[1] dedup window (ms)   ARGV[2] log max length (approximate)   ARGV[3] n
  ARGV[4] previous batch id on the chain ('' = none)   ARGV[5] this batch id
  then per event:  id, acceptance token, type, event JSON, output count,
  then per output: op, target, message
    P  PUBLISH to channel `target`
    L  LPUSH to KEYS[target]
    X  XADD to KEYS[target] an entry of the event with `message` as its JSON (includes/appendEntry)
    I  integrator fan-out; target is the JSON array [registry index, stream index, reseller,
       domain] (indexes into KEYS; the event's tenant, '' when none; spool rows written before
       tenants were added hold "<registry index> <stream index>"). The registry hash (name ->
       JSON {types, stream, list, scope, streamKey}) is read here, so a registration takes effect
       atomically on every hub node. Integrators without a scope: when any takes this event type,
       XADD the event once to the shared stream (as X, with the event JSON). Integrators
       with a scope take only events of their tenant (each scope level they set must equal the
       event's): XADD to their own `streamKey`. Every legacy-list integrator taking the event gets
       `message` (the event JSON when empty) LPUSHed to its `list`. Stream and list keys come from
       the registry and share the {log} hash tag, except a list whose name the integrator chose
       (`relayed`): the list relay fills that one from the log.

  Returns, per event, its log entry id, or false when the id was seen inside the dedup window.
]]
--- @include "includes/appendEntry"
local dedupWindowMs = ARGV[1]
local logMaxLength = ARGV[2]
local count = tonumber(ARGV[3])
local fenceKey = KEYS[2]
if ARGV[4] ~= '' and redis.call('GET', fenceKey) ~= ARGV[4] then
  return redis.error_reply('FENCED batch ' .. ARGV[4] .. ' did not land; nothing written')
end
local results = {}
local arg = 6

-- Each registry is decoded once per call: event type -> route of the integrators taking it:
-- shared (an unscoped integrator reads the shared stream or a list), lists and streams of the
-- unscoped ones, and the scoped ones with their tenant.
local registries = {}
local function routesOf(registryKey)
  local routes = registries[registryKey]
  if routes == nil then
    routes = {}
    for _, spec in ipairs(redis.call('HVALS', registryKey)) do
      local integrator = cjson.decode(spec)
      local scope = type(integrator.scope) == 'table' and integrator.scope or nil
      for _, eventType in ipairs(integrator.types) do
        local route = routes[eventType]
        if route == nil then
          route = { shared = false, lists = {}, scoped = {} }
          routes[eventType] = route
        end
        if scope == nil then
          route.shared = true
          if type(integrator.list) == 'string' and integrator.relayed ~= true then table.insert(route.lists, integrator.list) end
        else
          table.insert(route.scoped, {
            reseller = type(scope.reseller) == 'string' and scope.reseller or nil,
            domain = type(scope.domain) == 'string' and scope.domain or nil,
            stream = integrator.stream == true and integrator.streamKey or nil,
            list = (type(integrator.list) == 'string' and integrator.relayed ~= true) and integrator.list or nil,
          })
        end
      end
    end
    registries[registryKey] = routes
  end
  return routes
end

local function fanOut(target, eventId, eventType, body, message)
  local registryIndex, streamIndex, reseller, domain
  if string.sub(target, 1, 1) == '[' then
    local parts = cjson.decode(target)
    registryIndex, streamIndex, reseller, domain = parts[1], parts[2], parts[3], parts[4]
  else
    registryIndex, streamIndex = string.match(target, '^(%d+) (%d+)$')
    reseller, domain = '', ''
  end
  local route = routesOf(KEYS[tonumber(registryIndex)])[eventType]
  if route == nil then return end
  local listMessage = message ~= '' and message or body
  if route.shared then
    appendEntry(KEYS[tonumber(streamIndex)], nil, eventId, eventType, body)
    for _, list in ipairs(route.lists) do redis.call('LPUSH', list, listMessage) end
  end
  for _, integrator in ipairs(route.scoped) do
    if (integrator.reseller == nil or integrator.reseller == reseller) and (integrator.domain == nil or integrator.domain == domain) then
      if integrator.stream then
        appendEntry(integrator.stream, nil, eventId, eventType, body)
      end
      if integrator.list then redis.call('LPUSH', integrator.list, listMessage) end
    end
  end
end

for i = 1, count do
  local eventId, token, eventType, body = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2], ARGV[arg + 3]
  local outputs = tonumber(ARGV[arg + 4])
  arg = arg + 5
  local dedupKey = KEYS[2 + i]
  -- One call both claims the id and reads who claimed it before.
  local seenToken = redis.call('SET', dedupKey, token, 'NX', 'GET', 'PX', dedupWindowMs)

  if seenToken then
    if seenToken == token then
      for o = 0, outputs - 1 do
        if ARGV[arg + o * 3] == 'P' then
          redis.call('PUBLISH', ARGV[arg + o * 3 + 1], ARGV[arg + o * 3 + 2])
        end
      end
    end
    results[i] = false
    arg = arg + outputs * 3
  else
    local entryId = tryAppendEntry(KEYS[1], eventId, eventType, body)
    if type(entryId) == 'table' and entryId.err then
      -- Not in the log, so the id must not stay claimed (the retry would skip the event).
      redis.call('DEL', dedupKey)
      return entryId
    end
    for _ = 1, outputs do
      local op, target, message = ARGV[arg], ARGV[arg + 1], ARGV[arg + 2]
      arg = arg + 3
      if op == 'P' then
        redis.call('PUBLISH', target, message)
      elseif op == 'L' then
        redis.call('LPUSH', KEYS[tonumber(target)], message)
      elseif op == 'X' then
        appendEntry(KEYS[tonumber(target)], nil, eventId, eventType, message)
      elseif op == 'I' then
        fanOut(target, eventId, eventType, body, message)
      else
        return redis.error_reply('ERR unknown output op ' .. tostring(op))
      end
    end
    results[i] = entryId
  end
end

redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', logMaxLength)
redis.call('SET', fenceKey, ARGV[5], 'PX', dedupWindowMs)
return results
