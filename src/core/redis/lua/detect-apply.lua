-- detect-apply: writes a batch's visitor states, arms its timers and acknowledges its entries in
-- one script, provided nothing they were computed from changed (numKeys is dynamic). The detect
-- stage read the states (detect-load.lua) and applied the hits in the process
-- (src/stages/detect/visitor-state.ts); this script only checks and writes.
-- KEYS[1] hits stream, KEYS[2] timers zset, KEYS[3] the partition's last-write token
-- (keys.visitorsWritten), KEYS[4..] the visitor hashes written.
-- ARGV[1] group, ARGV[2] plan (plain MessagePack), ARGV[3] the written states one after the other
-- (MessagePack; cmsgpack reads no binary type, so they come as bytes beside the plan, in one
-- argument: one per state costs more to send and parse), ARGV[4] the token the process expects in
-- KEYS[3] ('' for none), ARGV[5] the token of this write:
--   { entryIds,
--     writes, one flat list (a table per write costs more than its commands): per write
--       keyIndex, versionRead (0 for none), check (1: compare the version even when the expected
--       token is found), state length in ARGV[3] (the new version, then the state), time to live
--       to set (ms, 0 to leave it), n, n strings field, value, … to set, m, m fields to remove,
--     arms = {member, due, …} (a member already waiting keeps its time) }
-- The expected token still in KEYS[3] means no other process and no fired timer wrote a state of
-- the partition since this process's last write: only the states marked `check` (not known to the
-- process since then, or whose key may have expired) have their version compared, one HGET each;
-- otherwise every state's is (src/stages/detect/visitor-cache.ts). The version is the number
-- the field s starts with; a state written before it moved there starts with an array, its
-- version in the field v (src/stages/detect/visitor-state.ts).
-- Returns {0, trusted (1: the expected token was found)} when applied. Else nothing is written and
-- the stage starts over:
--   {1, {id, …}}: entries no longer pending for the group (another consumer took and acknowledged
--   them); {2, n}: n visitors changed since they were read (another detect process, or a fired
--   timer: every write of detect bumps the state's version).
-- The acknowledgement comes last: a script failing half-way (Redis does not roll back) leaves the
-- entries pending, and a hit applied twice counts once (the visitor's recent hit ids).
local plan = cmsgpack.unpack(ARGV[2])
local entries, w = plan[1], plan[2]
local n = #w

local stale = {}
for _, id in ipairs(entries) do
  if #redis.call('XPENDING', KEYS[1], ARGV[1], id, id, 1) == 0 then stale[#stale + 1] = id end
end
if #stale > 0 then return { 1, stale } end

-- The version of a visitor's state (0 for none).
local function versionOf(key)
  local s = redis.call('HGET', key, 's')
  if not s then return 0 end
  local b = string.byte(s, 1) or 0
  if b < 0x80 or b == 0xcc or b == 0xcd or b == 0xce or b == 0xcf or b == 0xcb then
    local ok, _, version = pcall(cmsgpack.unpack_one, s)
    return ok and version or 0
  end
  return tonumber(redis.call('HGET', key, 'v')) or 0
end

local expected = ARGV[4] or ''
local trusted = expected ~= '' and redis.call('GET', KEYS[3]) == expected
local changed = 0
local i = 1
while i <= n do
  if (not trusted or w[i + 2] == 1) and versionOf(KEYS[w[i]]) ~= w[i + 1] then changed = changed + 1 end
  local sets = w[i + 5]
  i = i + 7 + sets + w[i + 6 + sets]
end
if changed > 0 then return { 2, changed } end

local states, at = ARGV[3], 1
i = 1
while i <= n do
  local key, length, ttl, sets = KEYS[w[i]], w[i + 3], w[i + 4], w[i + 5]
  redis.call('HSET', key, 's', string.sub(states, at, at + length - 1), unpack(w, i + 6, i + 5 + sets))
  at = at + length
  local removes = w[i + 6 + sets]
  if removes > 0 then redis.call('HDEL', key, unpack(w, i + 7 + sets, i + 6 + sets + removes)) end
  if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  i = i + 7 + sets + removes
end
if n > 0 then redis.call('SET', KEYS[3], ARGV[5]) end

-- The timers {member, due, …}, as ZADD NX score/member pairs, 200 members per call.
local arms = plan[3]
for a = 1, #arms, 400 do
  local args = {}
  for j = a, math.min(#arms, a + 399), 2 do
    args[#args + 1] = arms[j + 1]
    args[#args + 1] = arms[j]
  end
  redis.call('ZADD', KEYS[2], 'NX', unpack(args))
end

if #entries > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(entries)) end
return { 0, trusted and 1 or 0 }
