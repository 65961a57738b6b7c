-- lib.lua: helpers shared by every script; scripts.ts prepends this file to each one,
-- so a script stays one EVAL (atomic) while the channel logic is written once.
-- It declares no KEYS or ARGV of its own and publishes nothing by itself.
--
-- A channel is two keys in one hash slot: a hash `meta` {epoch, top} and a stream
-- whose entry ids are `<offset>-0` with fields t (ms since the epoch, Redis TIME) and
-- d (the event's data as raw JSON text, never decoded here: cjson would mangle numbers
-- and empty arrays).

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function int(n)
  return string.format('%d', n)
end

local function entry_time(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 't' then return tonumber(fields[i + 1]) end
  end
  return 0
end

local function offset_of(id)
  return tonumber(string.match(id, '^(%d+)'))
end

-- The channel's epoch and top offset. A channel without meta (never used, expired, or
-- lost in a Redis restart without persistence) starts a new epoch, the caller's random
-- candidate, and drops any stream left behind: its events belong to an older epoch.
local function channel_position(meta, stream, epoch_candidate, meta_ttl)
  local got = redis.call('HMGET', meta, 'epoch', 'top')
  local epoch = got[1]
  if not epoch then
    redis.call('DEL', stream)
    redis.call('HSET', meta, 'epoch', epoch_candidate, 'top', 0)
    redis.call('PEXPIRE', meta, meta_ttl)
    return epoch_candidate, 0
  end
  return epoch, tonumber(got[2]) or 0
end

-- Drop events older than ttl (kept while time + ttl > now). Times grow with offsets,
-- so a binary search over the contiguous offsets finds the first event to keep in
-- O(log n) lookups; the common case (oldest still fresh) is a single XRANGE.
local function trim_age(stream, ttl, now, top)
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not first then return end
  local cutoff = now - ttl
  if entry_time(first) > cutoff then return end
  local lo = offset_of(first[1]) + 1
  local hi = top + 1
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local e = redis.call('XRANGE', stream, int(mid) .. '-0', int(mid) .. '-0')[1]
    if e == nil or entry_time(e) <= cutoff then lo = mid + 1 else hi = mid end
  end
  if lo > top then
    redis.call('DEL', stream)
  else
    redis.call('XTRIM', stream, 'MINID', int(lo) .. '-0')
  end
end

-- The offset of the oldest retained event, or top + 1 when none is retained.
local function first_offset(stream, top)
  local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
  if not first then return top + 1 end
  return offset_of(first[1])
end

-- Append one event: next offset, bounded stream (exact MAXLEN, then age), publish the
-- whole event to the nodes so delivery needs no read. Returns the event as JSON text.
-- `sharded` is '1' on Redis Cluster (SPUBLISH reaches only the slot's shard).
local function append(meta, stream, pubsub, channel_json, epoch, data, now, size, ttl, meta_ttl, sharded)
  local offset = redis.call('HINCRBY', meta, 'top', 1)
  redis.call('XADD', stream, 'MAXLEN', '=', size, int(offset) .. '-0', 't', int(now), 'd', data)
  trim_age(stream, ttl, now, offset)
  redis.call('PEXPIRE', stream, ttl + 1000)
  redis.call('PEXPIRE', meta, meta_ttl)
  local event = '{"channel":' .. channel_json .. ',"epoch":"' .. epoch .. '","offset":' .. int(offset) ..
    ',"time":' .. int(now) .. ',"data":' .. data .. '}'
  if sharded == '1' then
    redis.call('SPUBLISH', pubsub, event)
  else
    redis.call('PUBLISH', pubsub, event)
  end
  return event
end

