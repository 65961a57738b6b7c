-- delete.lua: one task of a tree being deleted (retention), the part in the task's hash
-- slot: the snapshot hash, its pending jobs, its channel (meta and stream) and its
-- streams' chunk lists, and one last event on the task channel, published and never
-- stored (the Hub ends the channel's subscriptions with it).
--
-- KEYS[1] task hash   KEYS[2] pending list   KEYS[3] task channel meta   KEYS[4] task channel stream
-- ARGV[1] '1' = sharded pub/sub   ARGV[2] pub/sub channel   ARGV[3] channel name as JSON
-- ARGV[4] the notice's data JSON   ARGV[5] epoch candidate (a channel without meta)
-- ARGV[6] the key prefix of the task's stream chunk lists (`…:out:`)
--
-- Returns {'gone'} (nothing to delete), {'active'} (the task has not ended: nothing
-- deleted) or {'ok', the task's create idempotency key or ''}.

local json = redis.call('HGET', KEYS[1], 'json')
if not json then return {'gone'} end
local status = cjson.decode(json)['status']
if status ~= 'succeeded' and status ~= 'failed' and status ~= 'cancelled' then return {'active'} end
local streams = redis.call('HGET', KEYS[1], 'streams')
if streams then
  for name, _ in pairs(cjson.decode(streams)) do redis.call('DEL', ARGV[6] .. name) end
end
local idem = redis.call('HGET', KEYS[1], 'idem') or ''
local pos = redis.call('HMGET', KEYS[3], 'epoch', 'top')
local epoch = pos[1] or ARGV[5]
local top = tonumber(pos[2]) or 0
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4])
local event = '{"channel":' .. ARGV[3] .. ',"epoch":"' .. epoch .. '","offset":' .. int(top + 1) ..
  ',"time":' .. int(now_ms()) .. ',"data":' .. ARGV[4] .. '}'
if ARGV[1] == '1' then
  redis.call('SPUBLISH', ARGV[2], event)
else
  redis.call('PUBLISH', ARGV[2], event)
end
return {'ok', idem}
