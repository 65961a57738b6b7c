-- outbox-index.lua: the webhook outbox's indexes, in the `{idx}` slot (outbox.ts). The
-- messages themselves live in their task's slot (outbox.lua); these are derived and
-- checked against them when read.
--
-- KEYS[1] marks (sorted set: task id by when to look at its queue next)
-- KEYS[2] touches (hash: task id → the sequence number of its latest mark)
-- KEYS[3] sequence counter   KEYS[4] message → task id (hash)
-- KEYS[5] pending   KEYS[6] failed   KEYS[7] delivered (sorted sets of message ids)
-- ARGV[1] mode: 'mark' | 'due' | 'after' | 'unmark' | 'settled' | 'requeued' | 'prune' |
--   'known' | 'place' | 'drop'
--
-- mark: ARGV[2] task id   ARGV[3] due ms   ARGV[4..] pairs (message id, order score).
--   Before a commit with messages (or a retry): the mark at the earliest due time, a new
--   touch, and each message in the lookup and the pending set. Returns the touch.
-- due: ARGV[2] now   ARGV[3] limit. Returns {task, touch or '', …} for marks due by now.
-- after: ARGV[2] task   ARGV[3] touch read by `due`   ARGV[4] next look ms or '' (empty queue).
--   Unless the task was marked again since: remove its mark (empty) or move it. Returns 1 if done.
-- unmark: ARGV[2..] message ids of a commit that did not happen: out of the lookup and pending.
-- settled: ARGV[2] id   ARGV[3] 'delivered'|'failed'|'retry'   ARGV[4] score
--   ARGV[5] task   ARGV[6] look at the task at (ms) or '' (its queue is empty)
-- requeued: ARGV[2] id   ARGV[3] order score. A failed message pending again.
-- prune: ARGV[2] delivered before (ms)   ARGV[3] failed before (ms)   ARGV[4] batch.
--   Drops settled messages past their keeping time from the indexes (their data expires
--   by itself). Returns how many.
-- known: ARGV[2..] triples (id, task, order score): claimed messages are in the lookup
--   and, unless there already, the pending set (a repair).
-- place: ARGV[2] id   ARGV[3] task   ARGV[4] status   ARGV[5] score: the message's one
--   entry, in its status's set (a repair after a step lost to a crash).
-- drop: ARGV[2] id: an entry without a message (its commit never happened, or it expired).

local mode = ARGV[1]

if mode == 'mark' then
  local task = ARGV[2]
  redis.call('ZADD', KEYS[1], 'LT', tonumber(ARGV[3]), task)
  local touch = redis.call('INCR', KEYS[3])
  redis.call('HSET', KEYS[2], task, touch)
  for i = 4, #ARGV, 2 do
    redis.call('HSET', KEYS[4], ARGV[i], task)
    redis.call('ZADD', KEYS[5], 'NX', tonumber(ARGV[i + 1]), ARGV[i])
  end
  return touch
end

if mode == 'due' then
  local tasks = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[2], 'LIMIT', 0, tonumber(ARGV[3]))
  local out = {}
  for _, task in ipairs(tasks) do
    out[#out + 1] = task
    out[#out + 1] = redis.call('HGET', KEYS[2], task) or ''
  end
  return out
end

if mode == 'after' then
  local task = ARGV[2]
  local touch = redis.call('HGET', KEYS[2], task) or ''
  if touch ~= ARGV[3] then return 0 end
  if ARGV[4] == '' then
    redis.call('ZREM', KEYS[1], task)
    redis.call('HDEL', KEYS[2], task)
  else
    redis.call('ZADD', KEYS[1], tonumber(ARGV[4]), task)
  end
  return 1
end

if mode == 'unmark' then
  for i = 2, #ARGV do
    redis.call('HDEL', KEYS[4], ARGV[i])
    redis.call('ZREM', KEYS[5], ARGV[i])
  end
  return 1
end

if mode == 'settled' then
  local id = ARGV[2]
  if ARGV[3] ~= 'retry' then
    redis.call('ZREM', KEYS[5], id)
    local into = KEYS[7]
    if ARGV[3] == 'failed' then into = KEYS[6] end
    redis.call('ZADD', into, tonumber(ARGV[4]), id)
  end
  if ARGV[6] ~= '' then redis.call('ZADD', KEYS[1], 'LT', tonumber(ARGV[6]), ARGV[5]) end
  return 1
end

if mode == 'requeued' then
  redis.call('ZREM', KEYS[6], ARGV[2])
  redis.call('ZADD', KEYS[5], tonumber(ARGV[3]), ARGV[2])
  return 1
end

if mode == 'prune' then
  local n = 0
  local batch = tonumber(ARGV[4])
  for i, key in ipairs({KEYS[7], KEYS[6]}) do
    local ids = redis.call('ZRANGEBYSCORE', key, '-inf', '(' .. ARGV[1 + i], 'LIMIT', 0, batch)
    for _, id in ipairs(ids) do
      redis.call('ZREM', key, id)
      redis.call('HDEL', KEYS[4], id)
      n = n + 1
    end
  end
  return n
end

local sets = {pending = KEYS[5], failed = KEYS[6], delivered = KEYS[7]}

if mode == 'known' then
  for i = 2, #ARGV, 3 do
    redis.call('HSET', KEYS[4], ARGV[i], ARGV[i + 1])
    redis.call('ZADD', KEYS[5], 'NX', tonumber(ARGV[i + 2]), ARGV[i])
  end
  return 1
end

if mode == 'place' then
  local into = sets[ARGV[4]]
  if not into then return redis.error_reply('outbox-index.lua: unknown status') end
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
  for _, key in pairs(sets) do
    if key ~= into then redis.call('ZREM', key, ARGV[2]) end
  end
  redis.call('ZADD', into, tonumber(ARGV[5]), ARGV[2])
  return 1
end

if mode == 'drop' then
  for _, key in pairs(sets) do redis.call('ZREM', key, ARGV[2]) end
  redis.call('HDEL', KEYS[4], ARGV[2])
  return 1
end

return redis.error_reply('outbox-index.lua: unknown mode ' .. tostring(mode))
