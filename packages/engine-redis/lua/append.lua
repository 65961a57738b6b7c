-- append.lua: append one event to a channel (a publish, or the mirror of a task event on
-- user:<owner>), idempotent with an optional key.
--
-- KEYS[1] channel meta   KEYS[2] channel stream   KEYS[3] idempotency key (same slot)
-- ARGV[1] epoch candidate   ARGV[2] history size   ARGV[3] history ttl ms
-- ARGV[4] meta ttl ms       ARGV[5] '1' = sharded pub/sub   ARGV[6] channel name as JSON
-- ARGV[7] pub/sub channel   ARGV[8] '1' = use KEYS[3]      ARGV[9] idempotency ttl ms
-- ARGV[10] data JSON
--
-- Returns {1, first event JSON} for a repeated key (nothing appended, nothing published)
--      or {0, event JSON}. Publishes the new event on ARGV[7].

if ARGV[8] == '1' then
  local first = redis.call('GET', KEYS[3])
  if first then return {1, first} end
end
local epoch = channel_position(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[4]))
local event = append(KEYS[1], KEYS[2], ARGV[7], ARGV[6], epoch, ARGV[10], now_ms(),
  tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5])
if ARGV[8] == '1' then
  redis.call('SET', KEYS[3], event, 'PX', ARGV[9])
end
return {0, event}
