-- stream.lua: one chunk of a task's stream, in the task's slot: the chunk, the task's
-- streams summary (the `streams` field of its hash, laid over the snapshot when read),
-- the stall deadline, and the chunk's event on the task channel.
--
-- KEYS[1] task hash   KEYS[2] the stream's chunk list   KEYS[3] task channel meta
-- KEYS[4] task channel stream
-- ARGV[1] expected chunk count   ARGV[2] chunk text   ARGV[3] stream name
-- ARGV[4] chunk bytes (UTF-8)    ARGV[5] max bytes per stream   ARGV[6] max streams
-- ARGV[7] stallAt ms or ''       ARGV[8] event data JSON   ARGV[9] epoch candidate
-- ARGV[10] history size   ARGV[11] history ttl ms   ARGV[12] meta ttl ms
-- ARGV[13] '1' = sharded pub/sub   ARGV[14] channel name as JSON   ARGV[15] pub/sub channel
--
-- Returns {'not_found'} | {'conflict'} | {'too_many'} | {'too_large'}
--      or {'ok', streams JSON, event JSON}.

if redis.call('HEXISTS', KEYS[1], 'json') == 0 then return {'not_found'} end
local raw = redis.call('HGET', KEYS[1], 'streams')
local streams = {}
local count = 0
if raw then
  streams = cjson.decode(raw)
  for _ in pairs(streams) do count = count + 1 end
end
local name = ARGV[3]
local before = streams[name]
if before == nil then
  if tonumber(ARGV[1]) ~= 0 then return {'conflict'} end
  if count >= tonumber(ARGV[6]) then return {'too_many'} end
  before = {chunks = 0, bytes = 0}
elseif before.chunks ~= tonumber(ARGV[1]) then
  return {'conflict'}
end
local bytes = before.bytes + tonumber(ARGV[4])
if bytes > tonumber(ARGV[5]) then return {'too_large'} end
redis.call('RPUSH', KEYS[2], ARGV[2])
streams[name] = {chunks = before.chunks + 1, bytes = bytes}
local encoded = cjson.encode(streams)
redis.call('HSET', KEYS[1], 'streams', encoded, 'stallAt', ARGV[7])
local epoch = channel_position(KEYS[3], KEYS[4], ARGV[9], tonumber(ARGV[12]))
local event = append(KEYS[3], KEYS[4], ARGV[15], ARGV[14], epoch, ARGV[8], now_ms(),
  tonumber(ARGV[10]), tonumber(ARGV[11]), tonumber(ARGV[12]), ARGV[13])
return {'ok', encoded, event}
