-- detect-load: the visitor states a detect batch will update, read in one call (numKeys is
-- dynamic). KEYS: visitor hashes of one partition. Returns, per key, its fields s (state), v
-- (version) and ids, false where absent (src/stages/detect/visitor-state.ts), then its time to
-- live in ms (PTTL: -1 none, -2 no key; src/stages/detect/visitor-cache.ts).
local out = {}
for i, key in ipairs(KEYS) do
  local fields = redis.call('HMGET', key, 's', 'v', 'ids')
  fields[4] = redis.call('PTTL', key)
  out[i] = fields
end
return out
