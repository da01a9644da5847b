-- detect-fire: decides a batch of due timers of one partition atomically; for each whose trigger
-- holds, appends exactly one trigger message for the visit (numKeys is dynamic).
-- KEYS[1] timers zset, KEYS[2] trigger log, KEYS[3..] visitor hashes, then per trigger its
-- hourly fired counter of today (keys.firedHourly).
-- ARGV[1] now, ARGV[2] plan (plain MessagePack, built by src/stages/detect/timers.ts), ARGV[3]
-- the counter field (start of the hour, epoch ms), ARGV[4] the counter's time to live (ms):
--   { triggers = {{slot, type, delayMs, match, containerCount, visitConditions|false, headerJson,
--                  counterKeyIndex}, …},
--     members = {{member, slot, visit, visitorId, keyIndex}, …} }
--   type: abandonment | action | sessionStart | sessionEnd; delayMs: the trigger's inactivity,
--   or the visit inactivity for sessionEnd; visitConditions: per include container
--   {{metric, op, value}, …} evaluated on the visit's counts now.
-- Two processes may race on a member: the visit's fired flag makes the second a no-op.
-- Returns, per member: the visit's last-seen time when it fired, else rearmed | gone | already |
-- bot | excluded | unsatisfied.
local timers, log = KEYS[1], KEYS[2]
local now = tonumber(ARGV[1])
local plan = cmsgpack.unpack(ARGV[2])
local triggers = {}
for _, t in ipairs(plan[1]) do triggers[t[1]] = t end

local function decide(member, slot, k, visitor, key)
  local trigger = triggers[slot]
  local function drop(why)
    redis.call('ZREM', timers, member)
    return why
  end
  if trigger == nil then return drop('gone') end
  local kind, delay = trigger[2], trigger[3]
  local vn = tonumber(redis.call('HGET', key, 'vn'))
  if vn == nil or vn < k or vn - k >= 2 then return drop('gone') end
  local p = 'a'
  if k % 2 == 0 then p = 'b' end
  local pre = p .. slot
  local f = redis.call('HMGET', key, pre .. 'f', p .. 'b', p .. 'l', pre .. 'x', p .. 'f', p .. 't')
  if f[1] then return drop('already') end
  if f[2] then return drop('bot') end
  local last = tonumber(f[3])
  if last == nil then return drop('gone') end
  if (kind == 'abandonment' or kind == 'sessionEnd') and vn == k and last + delay > now then
    redis.call('ZADD', timers, last + delay, member)
    return 'rearmed'
  end
  -- Include: per container the earliest hit that satisfied it (and its visit-scope counts now).
  local conditions = trigger[6]
  local all = trigger[4] == 'all'
  local satisfied, missing, path = nil, false, {}
  for c = 0, trigger[5] - 1 do
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
  local excluded, first = tonumber(f[4]), tonumber(f[5])
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
  local rest = redis.call('HMGET', key, pre .. 'm', p .. 'cp', 'ids')
  local record = { trigger[7], visitor, now, first, tonumber(f[6]), path, rest[1] or '', rest[2] or '', rest[3] or '', kind, satisfied, k, slot }
  redis.call('XADD', log, '*', 'd', cmsgpack.pack(record))
  if trigger[8] then
    redis.call('HINCRBY', KEYS[trigger[8]], ARGV[3], 1)
    redis.call('PEXPIRE', KEYS[trigger[8]], ARGV[4])
  end
  return tostring(last)
end

local outcomes = {}
for i, m in ipairs(plan[2]) do
  outcomes[i] = decide(m[1], m[2], m[3], m[4], KEYS[m[5]])
end
return outcomes
