-- groups-info: XINFO GROUPS of a stream, or an empty list when the stream does not exist.
-- KEYS[1] stream. A script so that Redis Cluster routes it by its key (XINFO has none).
-- A group's `lag` is a counter Redis keeps (entries added − entries read), and it can be stale
-- or unknown (null) while nothing waits: when no entry follows the group's last delivered id,
-- the lag reported is 0. Otherwise Redis's figure is kept (an entry does wait).
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
for _, group in ipairs(groups) do
  local lagAt, delivered
  for i = 1, #group, 2 do
    if group[i] == 'lag' then lagAt = i + 1 elseif group[i] == 'last-delivered-id' then delivered = group[i + 1] end
  end
  -- lag is a number, or false for a null reply.
  if lagAt ~= nil and delivered ~= nil and group[lagAt] ~= 0 then
    if #redis.call('XRANGE', KEYS[1], '(' .. delivered, '+', 'COUNT', 1) == 0 then group[lagAt] = 0 end
  end
end
return groups
