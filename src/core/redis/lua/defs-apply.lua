-- defs-apply: writes a whole definitions bundle at once (rebound apply, the admin API).
-- KEYS[1] the definitions version counter, KEYS[2..] the keys written (all under the `{defs}`
-- hash tag, so one slot in Redis Cluster). ARGV[1] the version the writes were planned at
-- ('' = do not check), ARGV[2] op count, then per op: name (hset | hdel | set | del), KEYS
-- index, field, value. All or nothing: when the version moved since planning (somebody else
-- changed a definition), nothing is written and -1 is returned so the caller plans again.
-- Otherwise returns the new version (the counter moves once per bundle that wrote something).
local current = redis.call('GET', KEYS[1]) or '0'
if ARGV[1] ~= '' and ARGV[1] ~= current then return -1 end
local n = tonumber(ARGV[2])
if n == 0 then return tonumber(current) end
local at = 3
for _ = 1, n do
  local op, key, field, value = ARGV[at], KEYS[tonumber(ARGV[at + 1])], ARGV[at + 2], ARGV[at + 3]
  at = at + 4
  if op == 'hset' then redis.call('HSET', key, field, value)
  elseif op == 'hdel' then redis.call('HDEL', key, field)
  elseif op == 'set' then redis.call('SET', key, value)
  elseif op == 'del' then redis.call('DEL', key)
  else return redis.error_reply('defs-apply: unknown op ' .. tostring(op)) end
end
return redis.call('INCR', KEYS[1])
