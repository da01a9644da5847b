-- detect-fire: decides a batch of due timers of one partition atomically; for each whose trigger
-- holds, appends exactly one trigger message for the visit (numKeys is dynamic).
-- KEYS[1] timers zset, KEYS[2] trigger log, KEYS[3] the partition's last-write token
-- (keys.visitorsWritten), KEYS[4..] visitor hashes, then per trigger its hourly fired counter of
-- today (keys.firedHourly).
-- ARGV[1] now, ARGV[2] plan (plain MessagePack, built by src/stages/detect/timers.ts), ARGV[3]
-- the counter field (start of the hour, epoch ms), ARGV[4] the counter's time to live (ms), ARGV[5]
-- the token the process expects in KEYS[3] ('' for none), ARGV[6] the token of this write:
--   { triggers = {{slot, type, delayMs, match, containerCount, visitConditions|false, headerJson,
--                  counterKeyIndex}, …},
--     members = {{member, slot, visit, visitorId, keyIndex}, …} }
--   type: abandonment | action | sessionStart | sessionEnd; delayMs: the trigger's inactivity,
--   or the visit inactivity for sessionEnd; visitConditions: per include container
--   {{metric, op, value}, …} evaluated on the visit's counts now.
-- Two processes may race on a member: the visit's fired flag makes the second a no-op.
-- Returns {outcomes, written}: per member, the visit's last-seen time when it fired, else rearmed |
-- gone | already | bot | excluded | unsatisfied; written: 0 when no state was written, 1 when one
-- was and the expected token was found in KEYS[3], 2 when one was and it was not. A fired visit's
-- state is written (its fired flag): KEYS[3] then holds ARGV[6] (detect-apply.lua).
local timers, log = KEYS[1], KEYS[2]
local written = 0
local now = tonumber(ARGV[1])
local plan = cmsgpack.unpack(ARGV[2])
local triggers = {}
for _, t in ipairs(plan[1]) do triggers[t[1]] = t end

-- The visitor's state (field s: its version, then the state) as a Lua table, and its version;
-- positions are those of src/stages/detect/visitor-state.ts plus one: {vn, dd, odd visit, even
-- visit}; a visit {s, l, f, t, h, bot, armed, cart, counts, triggers}; a trigger visit {include,
-- excluded, metadata, fired}. A state written before the version moved into s starts with the
-- state (an array), its version in the field v: legacy is then true.
local function stateOf(key)
  local raw = redis.call('HGET', key, 's')
  if not raw then return nil end
  local b = string.byte(raw, 1) or 0
  if b < 0x80 or b == 0xcc or b == 0xcd or b == 0xce or b == 0xcf or b == 0xcb then
    local at, version = cmsgpack.unpack_one(raw)
    if at < 0 then return nil end
    local _, state = cmsgpack.unpack_one(raw, at)
    return state, version, false
  end
  return cmsgpack.unpack(raw), tonumber(redis.call('HGET', key, 'v')) or 0, true
end

-- The value after `key` in a {key, value, key, value, …} list, or nil.
local function lookup(list, key)
  for i = 1, #list - 1, 2 do
    if list[i] == key then return list[i + 1] end
  end
  return nil
end

-- The cart {sku: {q, p, n, c}} as JSON, from {{sku, q, price|false, name|false, category|false}, …}.
local function cartJson(entries)
  if #entries == 0 then return '' end
  local cart = {}
  for _, e in ipairs(entries) do
    local item = { q = e[2] }
    if e[3] ~= false then item.p = e[3] end
    if e[4] ~= false then item.n = e[4] end
    if e[5] ~= false then item.c = e[5] end
    cart[e[1]] = item
  end
  return cjson.encode(cart)
end

-- Metadata {name: [values]} as JSON, from {name, {values}, …}.
local function metadataJson(list)
  if #list == 0 then return '' end
  local metadata = {}
  for i = 1, #list - 1, 2 do metadata[list[i]] = list[i + 1] end
  return cjson.encode(metadata)
end

local function decide(member, slot, k, visitor, key)
  local trigger = triggers[slot]
  local function drop(why)
    redis.call('ZREM', timers, member)
    return why
  end
  if trigger == nil then return drop('gone') end
  local kind, delay = trigger[2], trigger[3]
  local state, version, legacy = stateOf(key)
  if type(state) ~= 'table' then return drop('gone') end
  local vn = state[1]
  if vn < k or vn - k >= 2 then return drop('gone') end
  local visit = state[3]
  if k % 2 == 0 then visit = state[4] end
  if visit == 0 then return drop('gone') end
  local t = lookup(visit[10], slot)
  if t and t[4] ~= 0 then return drop('already') end
  if visit[6] == 1 then return drop('bot') end
  local last = visit[2]
  -- detect-apply arms these once per visit, at the first qualifying hit: while hits keep coming,
  -- the timer moves here to the visit's last hit + the delay.
  if (kind == 'abandonment' or kind == 'sessionEnd') and last + delay > now then
    redis.call('ZADD', timers, last + delay, member)
    return 'rearmed'
  end
  if t == nil then return drop('unsatisfied') end
  -- Include: per container the earliest hit that satisfied it (and its visit-scope counts now).
  local conditions = trigger[6]
  local all = trigger[4] == 'all'
  local satisfied, missing, path = nil, false, {}
  for c = 0, trigger[5] - 1 do
    local at = lookup(t[1], c)
    if at and conditions and conditions[c + 1] then
      for _, cond in ipairs(conditions[c + 1]) do
        local n = lookup(visit[9], cond[1]) or 0
        local op, v = cond[2], cond[3]
        local ok = (op == 'exists' and n > 0) or (op == 'gte' and n >= v) or (op == 'lte' and n <= v) or (op == 'eq' and n == v)
        if not ok then at = nil break end
      end
    end
    if at then
      path[#path + 1] = { c, at }
      if all then
        if satisfied == nil or at > satisfied then satisfied = at end
      elseif satisfied == nil or at < satisfied then
        satisfied = at
      end
    else
      missing = true
    end
  end
  if satisfied == nil or (all and missing) then return drop('unsatisfied') end
  local excluded, first = t[2], visit[3]
  if excluded == 0 then excluded = nil end
  if kind == 'action' then
    if excluded and excluded <= satisfied then return drop('excluded') end
  elseif kind == 'sessionStart' then
    if satisfied ~= first then return drop('unsatisfied') end
    if excluded and excluded <= first then return drop('excluded') end
  elseif excluded then
    return drop('excluded')
  end
  -- The fired flag goes into the state; the version bump makes a detect batch computed from the
  -- state before it read the state again (detect-apply.lua).
  if written == 0 then written = redis.call('GET', KEYS[3]) == ARGV[5] and 1 or 2 end
  t[4] = now
  redis.call('HSET', key, 's', cmsgpack.pack(version + 1, state))
  if legacy then redis.call('HDEL', key, 'v') end
  redis.call('ZREM', timers, member)
  local ids = redis.call('HGET', key, 'ids') or ''
  local record = { trigger[7], visitor, now, first, visit[4], path, metadataJson(t[3]), cartJson(visit[8]), ids, kind, satisfied, k, slot }
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
if written ~= 0 then redis.call('SET', KEYS[3], ARGV[6]) end
return { outcomes, written }
