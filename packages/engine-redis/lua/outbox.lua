-- outbox.lua: the webhook messages of one task, in the task's hash slot (outbox.ts).
-- A pending message is three fields of the task's outbox hash: <id> (its immutable
-- JSON, written by the engine, never decoded here), <id>:st (its state, JSON
-- {status, nextAt, owner, until, endpoint}) and <id>:at (its attempts, a JSON array
-- appended to as text); the task's queue lists its pending ids in order. A settled
-- message moves to a hash of its own (fields m, st, at) that expires.
--
-- KEYS[1] outbox hash   KEYS[2] queue (list of ids)   KEYS[3] intent counter
-- KEYS[4] the settled message's hash (settle, retry, get; else any key of the slot)
-- ARGV[1] mode: 'intent' | 'claim' | 'settle' | 'retry' | 'get'
--
-- intent: ARGV[2] ttl ms. A commit with messages is under way (see the engine's
--   markOutbox): claim keeps the task's mark while the counter lives. Returns the count.
-- claim: ARGV[2] now   ARGV[3] lease ms   ARGV[4] owner   ARGV[5] max messages
--   Leases the due, unleased head of each endpoint's queue (at most max). Returns
--   {next look ms or '', intent 0|1, m, st, at, m, st, at, …} ('' when the queue is empty).
-- settle: ARGV[2] id   ARGV[3] owner   ARGV[4] outcome 'delivered'|'failed'|'retry'
--   ARGV[5] attempt JSON   ARGV[6] next due ms (retry) or the attempt's time   ARGV[7] keep ms
--   Returns {0} when the owner holds no lease on a pending message, else {1, queue length, m, st, at}.
-- retry: ARGV[2] id   ARGV[3] now. A failed message pending again, at the back of the
--   queue. Returns {} when unknown, {0, m, st, at} when not failed, {1, m, st, at} when requeued.
-- get: ARGV[2] id. Returns {} or {m, st, at}.

local mode = ARGV[1]

local function unintend()
  local n = redis.call('DECR', KEYS[3])
  if n <= 0 then redis.call('DEL', KEYS[3]) end
end

if mode == 'intent' then
  local n = redis.call('INCR', KEYS[3])
  redis.call('PEXPIRE', KEYS[3], tonumber(ARGV[2]))
  return n
end

if mode == 'claim' then
  local now = tonumber(ARGV[2])
  local untilMs = now + tonumber(ARGV[3])
  local max = tonumber(ARGV[5])
  local ids = redis.call('LRANGE', KEYS[2], 0, 999)
  local seen = {}
  local out = {}
  local nextLook = nil
  local claimed = 0
  for _, id in ipairs(ids) do
    local raw = redis.call('HGET', KEYS[1], id .. ':st')
    if raw then
      local st = cjson.decode(raw)
      if not seen[st.endpoint] then
        seen[st.endpoint] = true
        local at
        if st['until'] > now then
          at = st['until']
        elseif st.nextAt > now then
          at = st.nextAt
        elseif claimed < max then
          st.owner = ARGV[4]
          st['until'] = untilMs
          local enc = cjson.encode(st)
          redis.call('HSET', KEYS[1], id .. ':st', enc)
          local got = redis.call('HMGET', KEYS[1], id, id .. ':at')
          out[#out + 1] = got[1]
          out[#out + 1] = enc
          out[#out + 1] = got[2]
          claimed = claimed + 1
          at = untilMs
        else
          at = now
        end
        if nextLook == nil or at < nextLook then nextLook = at end
      end
    else
      redis.call('LREM', KEYS[2], 0, id)
    end
  end
  local intent = redis.call('EXISTS', KEYS[3])
  local head = ''
  if nextLook then head = string.format('%d', nextLook) end
  local reply = {head, intent}
  for _, v in ipairs(out) do reply[#reply + 1] = v end
  return reply
end

if mode == 'settle' then
  local id = ARGV[2]
  local raw = redis.call('HGET', KEYS[1], id .. ':st')
  if not raw then return {0} end
  local st = cjson.decode(raw)
  if st.status ~= 'pending' or st.owner ~= ARGV[3] then return {0} end
  local m = redis.call('HGET', KEYS[1], id)
  local at = redis.call('HGET', KEYS[1], id .. ':at')
  if at == '[]' then at = '[' .. ARGV[5] .. ']' else at = string.sub(at, 1, -2) .. ',' .. ARGV[5] .. ']' end
  st.owner = ''
  st['until'] = 0
  st.nextAt = tonumber(ARGV[6])
  if ARGV[4] == 'retry' then
    local enc = cjson.encode(st)
    redis.call('HSET', KEYS[1], id .. ':st', enc, id .. ':at', at)
    return {1, redis.call('LLEN', KEYS[2]), m, enc, at}
  end
  st.status = ARGV[4]
  local enc = cjson.encode(st)
  redis.call('HDEL', KEYS[1], id, id .. ':st', id .. ':at')
  redis.call('LREM', KEYS[2], 1, id)
  redis.call('HSET', KEYS[4], 'm', m, 'st', enc, 'at', at)
  redis.call('PEXPIRE', KEYS[4], tonumber(ARGV[7]))
  return {1, redis.call('LLEN', KEYS[2]), m, enc, at}
end

if mode == 'retry' then
  local id = ARGV[2]
  local done = redis.call('HMGET', KEYS[4], 'm', 'st', 'at')
  if not done[1] then
    unintend()
    local got = redis.call('HMGET', KEYS[1], id, id .. ':st', id .. ':at')
    if not got[1] then return {} end
    return {0, got[1], got[2], got[3]}
  end
  local st = cjson.decode(done[2])
  if st.status ~= 'failed' then
    unintend()
    return {0, done[1], done[2], done[3]}
  end
  st.status = 'pending'
  st.nextAt = tonumber(ARGV[3])
  st.owner = ''
  st['until'] = 0
  local enc = cjson.encode(st)
  redis.call('HSET', KEYS[1], id, done[1], id .. ':st', enc, id .. ':at', done[3])
  redis.call('RPUSH', KEYS[2], id)
  redis.call('DEL', KEYS[4])
  unintend()
  return {1, done[1], enc, done[3]}
end

if mode == 'get' then
  local id = ARGV[2]
  local got = redis.call('HMGET', KEYS[1], id, id .. ':st', id .. ':at')
  if got[1] then return got end
  local done = redis.call('HMGET', KEYS[4], 'm', 'st', 'at')
  if done[1] then return done end
  return {}
end

return redis.error_reply('outbox.lua: unknown mode ' .. tostring(mode))
