-- index.lua: the task indexes, all in the fixed {idx} hash slot: the list indexes
-- (lexicographic sorted sets of `<createdAt> <id>`) and the stall deadlines. Applied
-- after commit.lua, possibly more than once and out of order (a job replayed by another
-- node): list adds are idempotent, and a stall deadline is only replaced by the one of
-- a newer task version, so replays converge on the latest commit's deadline.
--
-- KEYS[1] all tasks   KEYS[2] owner's tasks   KEYS[3] stall deadlines (zset, score = ms)
-- KEYS[4] stall versions (hash task id → version that set the deadline)
-- KEYS[5] top-level tasks that ended (lexicographic `<finishedAt, 15 digits> <id>`, retention)
-- ARGV[1] list member ('' = leave the lists alone)   ARGV[2] task id   ARGV[3] version
-- ARGV[4] stallAt ms or '' (none)   ARGV[5] expiry member ('' = none)
--
-- Returns 1. Publishes nothing.

if ARGV[1] ~= '' then
  redis.call('ZADD', KEYS[1], 0, ARGV[1])
  redis.call('ZADD', KEYS[2], 0, ARGV[1])
end
if ARGV[5] and ARGV[5] ~= '' then
  redis.call('ZADD', KEYS[5], 0, ARGV[5])
end
local seen = tonumber(redis.call('HGET', KEYS[4], ARGV[2])) or -1
if tonumber(ARGV[3]) >= seen then
  redis.call('HSET', KEYS[4], ARGV[2], ARGV[3])
  if ARGV[4] == '' then
    redis.call('ZREM', KEYS[3], ARGV[2])
  else
    redis.call('ZADD', KEYS[3], ARGV[4], ARGV[2])
  end
end
return 1
