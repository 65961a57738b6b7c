-- commit.lua: a task commit, the part that lives in the task's hash slot: compare-and-set
-- on version, the snapshot, the stall deadline, the events of the task's own channel,
-- the derived work (user feed, indexes) queued for the engine to apply next, and the
-- webhook messages the change causes (the task's outbox, see outbox.lua).
--
-- KEYS[1] task hash {json, version, stallAt}     KEYS[2] pending list (derived-work jobs)
-- KEYS[3] task channel meta                       KEYS[4] task channel stream
-- KEYS[5] outbox hash   KEYS[6] outbox queue   KEYS[7] outbox intent counter
-- ARGV[1] expected version   ARGV[2] new version   ARGV[3] snapshot JSON
-- ARGV[4] stallAt ms or ''   ARGV[5] epoch candidate   ARGV[6] history size
-- ARGV[7] history ttl ms     ARGV[8] meta ttl ms   ARGV[9] '1' = sharded pub/sub
-- ARGV[10] channel name as JSON   ARGV[11] pub/sub channel   ARGV[12] job JSON or ''
-- ARGV[13] max pending jobs kept  ARGV[14] n, the number of webhook messages
-- ARGV[15 .. 14 + 3n] each message: id, JSON, state JSON
-- ARGV[15 + 3n ..] data JSON of each event on the task channel
--
-- With messages, the intent counter the engine raised before (markOutbox) goes down,
-- whether the commit happens or not.
-- Returns {'conflict', current snapshot JSON or ''}
--      or {'ok', {pending job JSON…, this one last}, event JSON…}
-- Publishes each appended event (PUBLISH, or SPUBLISH when sharded) on ARGV[11].

local hooks = tonumber(ARGV[14])
if hooks > 0 then
  local n = redis.call('DECR', KEYS[7])
  if n <= 0 then redis.call('DEL', KEYS[7]) end
end

local stored = redis.call('HGET', KEYS[1], 'version')
local current = tonumber(stored) or 0
if current ~= tonumber(ARGV[1]) then
  local json = ''
  if stored then json = redis.call('HGET', KEYS[1], 'json') end
  return {'conflict', json}
end

redis.call('HSET', KEYS[1], 'json', ARGV[3], 'version', ARGV[2], 'stallAt', ARGV[4])
if ARGV[12] ~= '' then
  redis.call('RPUSH', KEYS[2], ARGV[12])
  -- Bounded: a job stuck for good (its slot unreachable for very long) cannot grow this for ever.
  redis.call('LTRIM', KEYS[2], -tonumber(ARGV[13]), -1)
end
local jobs = redis.call('LRANGE', KEYS[2], 0, -1)
for i = 15, 14 + 3 * hooks, 3 do
  local id = ARGV[i]
  redis.call('HSET', KEYS[5], id, ARGV[i + 1], id .. ':st', ARGV[i + 2], id .. ':at', '[]')
  redis.call('RPUSH', KEYS[6], id)
end
local first = 15 + 3 * hooks

local reply = {'ok', jobs}
if #ARGV >= first then
  local now = now_ms()
  local epoch = channel_position(KEYS[3], KEYS[4], ARGV[5], tonumber(ARGV[8]))
  for i = first, #ARGV do
    reply[#reply + 1] = append(KEYS[3], KEYS[4], ARGV[11], ARGV[10], epoch, ARGV[i], now,
      tonumber(ARGV[6]), tonumber(ARGV[7]), tonumber(ARGV[8]), ARGV[9])
  end
end
return reply
