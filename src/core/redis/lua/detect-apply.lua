-- detect-apply: applies one batch of hits to visitor state, gated on the XACK of their entries
-- (numKeys is dynamic). KEYS[1] hits stream, KEYS[2] timers zset, KEYS[3..] visitor hashes.
-- ARGV[1] group, ARGV[2] plan (plain MessagePack, built by src/stages/detect/visitor-plan.ts):
--   { sources = {{inactivity, maxDuration, maxHits, botHits, botWithin}, …},
--     entries = {{entryId, {hit, …}}, …} }
--   hit = {keyIndex, idHash (8 hex characters), receivedAt, ts, sourceIndex, visitorId, aliasesJson|'',
--          cart {{sku, delta, price, name, category}, …}, counts {{metric, n}, …}, matches}
--   match = {slot, kind ('a' re-armed on every hit | 'o' once), delayMs, {includeIdx…}, excluded, metaJson|''}
-- Every update commutes (min/max timestamps, sums, set unions), so the final state does not
-- depend on the order of hits or on which process applied them; a hit id seen among the
-- visitor's last 32 is skipped, so a retried message never counts twice.
-- Per-visit fields start with the visit's parity ('a' odd, 'b' even): a new visit clears the
-- fields of the visit before the last, so timers of the visit that just ended can still fire.
-- Fields kept across visits (vn visit number, dd recent hit ids, ids declared ids) must never
-- start with 'a' or 'b'.
-- Returns the number of entries applied.
local group = ARGV[1]
local plan = cmsgpack.unpack(ARGV[2])
local sources, entries = plan[1], plan[2]
local timers = KEYS[2]

local function parity(vn)
  if vn % 2 == 0 then return 'b' end
  return 'a'
end

local function clearParity(key, p)
  local doomed = {}
  for _, f in ipairs(redis.call('HKEYS', key)) do
    if string.sub(f, 1, 1) == p then doomed[#doomed + 1] = f end
  end
  for i = 1, #doomed, 500 do
    redis.call('HDEL', key, unpack(doomed, i, math.min(i + 499, #doomed)))
  end
end

local function keepMin(key, field, value)
  local current = tonumber(redis.call('HGET', key, field))
  if current == nil or value < current then redis.call('HSET', key, field, value) end
end

local function keepMax(key, field, value)
  local current = tonumber(redis.call('HGET', key, field))
  if current == nil or value > current then redis.call('HSET', key, field, value) end
end

-- {name: [values]} merged into a JSON field: values de-duplicated, at most `bound` per name.
local function mergeLists(key, field, json, bound)
  local current = redis.call('HGET', key, field)
  local have = current and cjson.decode(current) or {}
  local changed = false
  for name, values in pairs(cjson.decode(json)) do
    local list = have[name] or {}
    for _, v in ipairs(values) do
      local seen = false
      for _, w in ipairs(list) do
        if w == v then seen = true break end
      end
      if not seen and #list < bound then
        list[#list + 1] = v
        changed = true
      end
    end
    have[name] = list
  end
  if changed then redis.call('HSET', key, field, cjson.encode(have)) end
end

local function mergeAliases(key, json)
  local current = redis.call('HGET', key, 'ids')
  local have = current and cjson.decode(current) or {}
  for name, value in pairs(cjson.decode(json)) do have[name] = value end
  redis.call('HSET', key, 'ids', cjson.encode(have))
end

-- The cart as products added minus removed: {sku: {q, price, name, category}}.
local function applyCart(key, field, lines)
  local current = redis.call('HGET', key, field)
  local cart = current and cjson.decode(current) or {}
  for _, line in ipairs(lines) do
    local sku, delta = line[1], line[2]
    local item = cart[sku] or { q = 0 }
    item.q = item.q + delta
    if line[3] then item.p = line[3] end
    if line[4] then item.n = line[4] end
    if line[5] then item.c = line[5] end
    if item.q <= 0 then cart[sku] = nil else cart[sku] = item end
  end
  if next(cart) == nil then redis.call('HDEL', key, field) else redis.call('HSET', key, field, cjson.encode(cart)) end
end

-- Starts a new visit when there is none or the current one ended (inactivity, length, hits).
local function currentVisit(key, received, src)
  local vn = tonumber(redis.call('HGET', key, 'vn'))
  if vn then
    local p = parity(vn)
    local v = redis.call('HMGET', key, p .. 's', p .. 'l', p .. 'h')
    local s, l, n = tonumber(v[1]), tonumber(v[2]), tonumber(v[3]) or 0
    if s ~= nil and received - l <= src[1] and received - s <= src[2] and n < src[3] then return vn end
    vn = vn + 1
  else
    vn = 1
  end
  clearParity(key, parity(vn))
  redis.call('HSET', key, 'vn', vn)
  return vn
end

local function isDuplicate(key, hash)
  local dd = redis.call('HGET', key, 'dd') or ''
  for i = 1, #dd, 8 do
    if string.sub(dd, i, i + 7) == hash then return true end
  end
  dd = dd .. hash
  if #dd > 256 then dd = string.sub(dd, #dd - 255) end
  redis.call('HSET', key, 'dd', dd)
  return false
end

local function applyHit(h)
  local key, received, ts, src, visitor = KEYS[h[1]], h[3], h[4], sources[h[5]], h[6]
  if isDuplicate(key, h[2]) then return end
  local vn = currentVisit(key, received, src)
  local p = parity(vn)
  local hits = redis.call('HINCRBY', key, p .. 'h', 1)
  keepMin(key, p .. 's', received)
  keepMax(key, p .. 'l', received)
  keepMin(key, p .. 'f', ts)
  keepMax(key, p .. 't', ts)
  local start = tonumber(redis.call('HGET', key, p .. 's'))
  if hits > src[4] and received - start <= src[5] then redis.call('HSET', key, p .. 'b', 1) end
  if h[7] ~= '' then mergeAliases(key, h[7]) end
  if h[8] and #h[8] > 0 then applyCart(key, p .. 'cp', h[8]) end
  if h[9] then
    for _, c in ipairs(h[9]) do redis.call('HINCRBYFLOAT', key, p .. 'c:' .. c[1], c[2]) end
  end
  if h[10] then
    for _, m in ipairs(h[10]) do
      local pre = p .. m[1]
      for _, c in ipairs(m[4]) do keepMin(key, pre .. 'i' .. c, ts) end
      if m[5] then keepMin(key, pre .. 'x', ts) end
      if m[6] ~= '' then mergeLists(key, pre .. 'm', m[6], 10) end
      if #m[4] > 0 then
        local member = m[1] .. '|' .. vn .. '|' .. visitor
        if m[2] == 'o' then
          redis.call('ZADD', timers, 'NX', received + m[3], member)
        else
          local armed = redis.call('HGET', key, p .. 'ar') or ','
          local entry = m[1] .. ':' .. m[3] .. ','
          if not string.find(armed, ',' .. entry, 1, true) then redis.call('HSET', key, p .. 'ar', armed .. entry) end
        end
      end
    end
  end
  -- Every hit moves the deadline of the visit's armed timers (abandonment, session end).
  local armed = redis.call('HGET', key, p .. 'ar')
  if armed then
    for slot, delay in string.gmatch(armed, '(%d+):(%d+)') do
      redis.call('ZADD', timers, 'GT', received + tonumber(delay), slot .. '|' .. vn .. '|' .. visitor)
    end
  end
end

local committed = 0
for _, entry in ipairs(entries) do
  if redis.call('XACK', KEYS[1], group, entry[1]) == 1 then
    committed = committed + 1
    for _, h in ipairs(entry[2]) do applyHit(h) end
  end
end
return committed
