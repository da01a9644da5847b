-- detect-load: the visitor states a detect batch will update, read in one call (numKeys is
-- dynamic). KEYS: visitor hashes of one partition. Returns, per key, its fields s (state), v
-- (version) and ids, false where absent (src/stages/detect/visitor-state.ts).
local out = {}
for i, key in ipairs(KEYS) do out[i] = redis.call('HMGET', key, 's', 'v', 'ids') end
return out
