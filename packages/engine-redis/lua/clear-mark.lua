-- Clear a parent's mark in the pending-parents set, unless it was renewed after ARGV[2].
-- KEYS[1] pending-parents (sorted set)   ARGV[1] parent id   ARGV[2] the mark (ms)
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
