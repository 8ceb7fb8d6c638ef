--[[
  Registers an integrator: its consumer group (when it reads the stream) and its registry entry,
  in one atomic step, so the append script never sees one without the other.

  KEYS[1] integrator registry hash   KEYS[2] the stream its group reads (shared, or its own when scoped)
  ARGV[1] name   ARGV[2] spec JSON   ARGV[3] "1" when the integrator reads the stream (a group)

  The group starts at `$`: it receives the events accepted after this call.
  Returns REPLY.OK, or REPLY.CONFLICT when the name is taken.
]]
--- @include "includes/replies"
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return REPLY.CONFLICT end
if ARGV[3] == '1' then
  -- A group left behind under this name (e.g. by a hand-made XGROUP) would resume at its old position.
  if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('XGROUP', 'DESTROY', KEYS[2], ARGV[1]) end
  redis.call('XGROUP', 'CREATE', KEYS[2], ARGV[1], '$', 'MKSTREAM')
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return REPLY.OK
