-- history.lua: a channel's position and events, trimmed by age first. Creates the
-- channel's epoch when it has none, so the epoch read here is the one the first event gets.
--
-- KEYS[1] channel meta   KEYS[2] channel stream
-- ARGV[1] epoch candidate   ARGV[2] history size   ARGV[3] history ttl ms   ARGV[4] meta ttl ms
-- ARGV[5] '1' = since given   ARGV[6] since epoch   ARGV[7] since offset   ARGV[8] limit
--
-- Returns {epoch, top, recovered 0|1, entries} where entries are stream entries
-- ({id, {field, value…}}): without since, the latest `limit` NEWEST FIRST; with since,
-- the first `limit` after it, oldest first, and only when every one is retained.
-- Publishes nothing.

local epoch, top = channel_position(KEYS[1], KEYS[2], ARGV[1], tonumber(ARGV[4]))
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
local now = now_ms()
trim_age(KEYS[2], tonumber(ARGV[3]), now, top)
-- Count too (a no-op unless historySize was lowered since these events were written).
redis.call('XTRIM', KEYS[2], 'MAXLEN', '=', tonumber(ARGV[2]))
local limit = tonumber(ARGV[8])

if ARGV[5] ~= '1' then
  if limit <= 0 then return {epoch, top, 1, {}} end
  return {epoch, top, 1, redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', limit)}
end

local since = tonumber(ARGV[7])
if ARGV[6] ~= epoch or since > top or since + 1 < first_offset(KEYS[2], top) then
  return {epoch, top, 0, {}}
end
if limit <= 0 or since == top then return {epoch, top, 1, {}} end
return {epoch, top, 1, redis.call('XRANGE', KEYS[2], int(since + 1) .. '-0', '+', 'COUNT', limit)}
