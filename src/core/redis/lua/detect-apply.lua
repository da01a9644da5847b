-- detect-apply: applies one batch of hits to visitor state and acknowledges their entries, in one
-- script (numKeys is dynamic). KEYS[1] hits stream, KEYS[2] timers zset, KEYS[3..] visitor hashes.
-- ARGV[1] group, ARGV[2] plan (plain MessagePack, built by src/stages/detect/visitor-plan.ts):
--   { sources = {{inactivity, maxDuration, maxHits, botHits, botWithin}, …},
--     entries = {{entryId, {hit, …}}, …} }
--   hit = {keyIndex, idHash (8 hex characters), receivedAt, ts, sourceIndex, visitorId, aliasesJson|'',
--          cart {{sku, delta, price, name, category}, …}|false, counts {{metric, n}, …}|false, matches|false}
--   match = {slot, kind ('a' re-armed on every hit | 'o' once), delayMs, {includeIdx…}, excluded, metaJson|''}
-- Every update commutes (min/max timestamps, sums, set unions), so the final state does not
-- depend on the order of hits or on which process applied them; a hit id seen among the
-- visitor's last 32 is skipped, so a retried message never counts twice.
-- Per-visit fields start with the visit's parity ('a' odd, 'b' even): a new visit clears the
-- fields of the visit before the last, so timers of the visit that just ended can still fire.
-- Fields kept across visits (vn visit number, dd recent hit ids, ids declared ids) must never
-- start with 'a' or 'b'.
-- Cost: each visitor's hash is read once per batch (HGETALL), changed in memory, and written
-- back once (HSET/HDEL); each timer member gets one ZADD per batch.
-- Returns the number of entries applied.
local group = ARGV[1]
local plan = cmsgpack.unpack(ARGV[2])
local sources, entries = plan[1], plan[2]
local timers = KEYS[2]

local states = {}
local order = {}
local rearm, once = {}, {}

local function load(key)
  local s = states[key]
  if s then return s end
  local flat = redis.call('HGETALL', key)
  local f = {}
  for i = 1, #flat, 2 do f[flat[i]] = flat[i + 1] end
  s = { f = f, dirty = {}, json = {} }
  states[key] = s
  order[#order + 1] = key
  return s
end

local function set(s, field, value)
  s.f[field] = value
  s.dirty[field] = true
end

local function num(s, field) return tonumber(s.f[field]) end

local function keepMin(s, field, value)
  local current = num(s, field)
  if current == nil or value < current then set(s, field, value) end
end

local function keepMax(s, field, value)
  local current = num(s, field)
  if current == nil or value > current then set(s, field, value) end
end

-- A JSON field, decoded once per batch and encoded again when the visitor is written back.
local function json(s, field)
  local value = s.json[field]
  if value == nil then
    local raw = s.f[field]
    value = raw and cjson.decode(raw) or {}
    s.json[field] = value
  end
  s.dirty[field] = true
  return value
end

local function parity(vn)
  if vn % 2 == 0 then return 'b' end
  return 'a'
end

local function clearParity(s, p)
  for field in pairs(s.f) do
    if string.sub(field, 1, 1) == p then
      s.f[field] = nil
      s.json[field] = nil
      s.dirty[field] = true
    end
  end
end

-- {name: [values]} merged: values de-duplicated, at most `bound` per name.
local function mergeLists(have, add, bound)
  for name, values in pairs(add) do
    local list = have[name] or {}
    for _, v in ipairs(values) do
      local seen = false
      for _, w in ipairs(list) do
        if w == v then seen = true break end
      end
      if not seen and #list < bound then list[#list + 1] = v end
    end
    have[name] = list
  end
end

-- The cart as products added minus removed: {sku: {q, p, n, c}}. The signed sum is kept even
-- at zero or below (a remove applied before its add must still cancel it); the trigger message
-- lists only the products whose quantity is above zero.
local function applyCart(cart, lines)
  for _, line in ipairs(lines) do
    local sku, delta = line[1], line[2]
    local item = cart[sku] or { q = 0 }
    item.q = item.q + delta
    if line[3] then item.p = line[3] end
    if line[4] then item.n = line[4] end
    if line[5] then item.c = line[5] end
    cart[sku] = item
  end
end

-- Starts a new visit when there is none or the current one ended (inactivity, length, hits).
local function currentVisit(s, received, src)
  local vn = num(s, 'vn')
  if vn then
    local p = parity(vn)
    local start, last, hits = num(s, p .. 's'), num(s, p .. 'l'), num(s, p .. 'h') or 0
    if start ~= nil and received - last <= src[1] and received - start <= src[2] and hits < src[3] then return vn end
    vn = vn + 1
  else
    vn = 1
  end
  clearParity(s, parity(vn))
  set(s, 'vn', vn)
  return vn
end

local function isDuplicate(s, hash)
  local dd = s.f['dd'] or ''
  for i = 1, #dd, 8 do
    if string.sub(dd, i, i + 7) == hash then return true end
  end
  dd = dd .. hash
  if #dd > 256 then dd = string.sub(dd, #dd - 255) end
  set(s, 'dd', dd)
  return false
end

local function applyHit(h)
  local s = load(KEYS[h[1]])
  local received, ts, src, visitor = h[3], h[4], sources[h[5]], h[6]
  if isDuplicate(s, h[2]) then return end
  local vn = currentVisit(s, received, src)
  local p = parity(vn)
  local hits = (num(s, p .. 'h') or 0) + 1
  set(s, p .. 'h', hits)
  keepMin(s, p .. 's', received)
  keepMax(s, p .. 'l', received)
  keepMin(s, p .. 'f', ts)
  keepMax(s, p .. 't', ts)
  if hits > src[4] and received - num(s, p .. 's') <= src[5] then set(s, p .. 'b', 1) end
  if h[7] ~= '' then
    local ids = json(s, 'ids')
    for name, value in pairs(cjson.decode(h[7])) do ids[name] = value end
  end
  if h[8] and #h[8] > 0 then applyCart(json(s, p .. 'cp'), h[8]) end
  if h[9] then
    for _, c in ipairs(h[9]) do set(s, p .. 'c:' .. c[1], (num(s, p .. 'c:' .. c[1]) or 0) + c[2]) end
  end
  if h[10] then
    for _, m in ipairs(h[10]) do
      local pre = p .. m[1]
      for _, c in ipairs(m[4]) do keepMin(s, pre .. 'i' .. c, ts) end
      if m[5] then keepMin(s, pre .. 'x', ts) end
      if m[6] ~= '' then mergeLists(json(s, pre .. 'm'), cjson.decode(m[6]), 10) end
      if #m[4] > 0 then
        if m[2] == 'o' then
          local member = m[1] .. '|' .. vn .. '|' .. visitor
          if once[member] == nil then once[member] = received + m[3] end
        else
          local armed = s.f[p .. 'ar'] or ','
          local entry = m[1] .. ':' .. m[3] .. ','
          if not string.find(armed, ',' .. entry, 1, true) then set(s, p .. 'ar', armed .. entry) end
        end
      end
    end
  end
  -- Every hit moves the deadline of the visit's armed timers (abandonment, session end).
  local armed = s.f[p .. 'ar']
  if armed then
    for slot, delay in string.gmatch(armed, '(%d+):(%d+)') do
      local member = slot .. '|' .. vn .. '|' .. visitor
      local due = received + tonumber(delay)
      if rearm[member] == nil or due > rearm[member] then rearm[member] = due end
    end
  end
end

-- Only entries still pending for the group are applied (one acknowledged meanwhile by another
-- consumer is skipped), and they are acknowledged after every write: a script that failed
-- half-way (Redis does not roll back) has written nothing in the hit logic above the flush, and
-- an entry retried after a failure cannot count a hit twice (the recent hit ids).
local applied = {}
for _, entry in ipairs(entries) do
  if #redis.call('XPENDING', KEYS[1], group, entry[1], entry[1], 1) == 1 then
    applied[#applied + 1] = entry[1]
    for _, h in ipairs(entry[2]) do applyHit(h) end
  end
end

for _, key in ipairs(order) do
  local s = states[key]
  local writes, deletes = {}, {}
  for field in pairs(s.dirty) do
    local value = s.f[field]
    local decoded = s.json[field]
    if decoded ~= nil then
      if next(decoded) == nil then value = nil else value = cjson.encode(decoded) end
    end
    if value == nil then
      deletes[#deletes + 1] = field
    else
      writes[#writes + 1] = field
      writes[#writes + 1] = value
    end
  end
  if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
  if #deletes > 0 then redis.call('HDEL', key, unpack(deletes)) end
end
for member, due in pairs(rearm) do redis.call('ZADD', timers, 'GT', due, member) end
for member, due in pairs(once) do redis.call('ZADD', timers, 'NX', due, member) end
if #applied > 0 then redis.call('XACK', KEYS[1], group, unpack(applied)) end
return #applied
