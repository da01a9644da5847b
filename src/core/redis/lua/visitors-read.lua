-- visitors-read: what the campaign side reads of a batch of visitors of one partition, in one
-- call (numKeys is dynamic). KEYS: visitor hashes. ARGV[i]: the field of KEYS[i]'s visit that
-- marks an exclude hit ('' when the trigger message has no visit).
-- Returns per key {ids, link, vn, excluded}, false where a field is absent.
local out = {}
for i, key in ipairs(KEYS) do
  local field = ARGV[i]
  if field == '' then field = 'vn' end
  out[i] = redis.call('HMGET', key, 'ids', 'link', 'vn', field)
end
return out
