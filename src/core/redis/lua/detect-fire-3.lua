-- detect-fire: decides one due timer atomically and, when the trigger holds, appends exactly one
-- trigger message for the visit. KEYS[1] visitor hash, KEYS[2] timers zset, KEYS[3] trigger log.
-- ARGV: 1 member (slot|visit|visitorId), 2 now, 3 slot, 4 visit number, 5 visitorId,
--   6 type (abandonment|action|sessionStart|sessionEnd), 7 delay ms (trigger inactivity, or the
--   visit inactivity for sessionEnd), 8 include match (all|any), 9 include container count,
--   10 visit-scope conditions (plain MessagePack {{{metric, op, value}…} per container}, or ''),
--   11 header JSON (trigger id, name, version, source), passed into the record as is.
-- Two processes may race on the same member: the fired flag makes the second a no-op.
-- Returns {fired, lastSeenMs} or one of rearmed | gone | already | bot | excluded | unsatisfied.
local key, timers, log = KEYS[1], KEYS[2], KEYS[3]
local member, now, slot, k = ARGV[1], tonumber(ARGV[2]), ARGV[3], tonumber(ARGV[4])
local kind, delay = ARGV[6], tonumber(ARGV[7])

local function drop(why)
  redis.call('ZREM', timers, member)
  return why
end

local vn = tonumber(redis.call('HGET', key, 'vn'))
if vn == nil or vn < k or vn - k >= 2 then return drop('gone') end
local p = 'a'
if k % 2 == 0 then p = 'b' end
local pre = p .. slot
if redis.call('HEXISTS', key, pre .. 'f') == 1 then return drop('already') end
if redis.call('HEXISTS', key, p .. 'b') == 1 then return drop('bot') end

local last = tonumber(redis.call('HGET', key, p .. 'l'))
if last == nil then return drop('gone') end
if (kind == 'abandonment' or kind == 'sessionEnd') and vn == k and last + delay > now then
  redis.call('ZADD', timers, last + delay, member)
  return 'rearmed'
end

-- Include: per container the earliest hit that satisfied it (and its visit-scope counts now).
local conditions = nil
if ARGV[10] ~= '' then conditions = cmsgpack.unpack(ARGV[10]) end
local all = ARGV[8] == 'all'
local satisfied, missing, path = nil, false, {}
for c = 0, tonumber(ARGV[9]) - 1 do
  local t = tonumber(redis.call('HGET', key, pre .. 'i' .. c))
  if t and conditions and conditions[c + 1] then
    for _, cond in ipairs(conditions[c + 1]) do
      local n = tonumber(redis.call('HGET', key, p .. 'c:' .. cond[1])) or 0
      local op, v = cond[2], cond[3]
      local ok = (op == 'exists' and n > 0) or (op == 'gte' and n >= v) or (op == 'lte' and n <= v) or (op == 'eq' and n == v)
      if not ok then t = nil break end
    end
  end
  if t then
    path[#path + 1] = { c, t }
    if all then
      if satisfied == nil or t > satisfied then satisfied = t end
    elseif satisfied == nil or t < satisfied then
      satisfied = t
    end
  else
    missing = true
  end
end
if satisfied == nil or (all and missing) then return drop('unsatisfied') end

local excluded = tonumber(redis.call('HGET', key, pre .. 'x'))
local first = tonumber(redis.call('HGET', key, p .. 'f'))
if kind == 'action' then
  if excluded and excluded <= satisfied then return drop('excluded') end
elseif kind == 'sessionStart' then
  if satisfied ~= first then return drop('unsatisfied') end
  if excluded and excluded <= first then return drop('excluded') end
elseif excluded then
  return drop('excluded')
end

redis.call('HSET', key, pre .. 'f', now)
redis.call('ZREM', timers, member)
local record = {
  ARGV[11], ARGV[5], now, first, tonumber(redis.call('HGET', key, p .. 't')), path,
  redis.call('HGET', key, pre .. 'm') or '', redis.call('HGET', key, p .. 'cp') or '',
  redis.call('HGET', key, 'ids') or '', kind, satisfied,
}
redis.call('XADD', log, '*', 'd', cmsgpack.pack(record))
return { 'fired', tostring(last) }
