-- detect-watermark: the arrival time (ms, from the entry id) of the oldest entry of a partition's
-- hits stream that the detect group has not acknowledged yet: the oldest pending entry, else the
-- first entry not yet delivered. Returns -1 when every entry is acknowledged (or there is no
-- stream). A due timer whose deadline is not before this time must wait: a hit that arrived
-- before its deadline may still end the visit's inactivity or satisfy the exclude.
-- KEYS[1] the partition's hits stream. ARGV[1] the detect group.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local last = nil
for _, group in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local name, delivered
  for i = 1, #group, 2 do
    if group[i] == 'name' then name = group[i + 1] elseif group[i] == 'last-delivered-id' then delivered = group[i + 1] end
  end
  if name == ARGV[1] then last = delivered end
end
local oldest = nil
if last == nil then
  local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
  if #first > 0 then oldest = first[1][1] end
else
  local pending = redis.call('XPENDING', KEYS[1], ARGV[1])
  if tonumber(pending[1]) > 0 then oldest = pending[2] end
  if oldest == nil then
    local following = redis.call('XRANGE', KEYS[1], '(' .. last, '+', 'COUNT', 1)
    if #following > 0 then oldest = following[1][1] end
  end
end
if oldest == nil then return -1 end
return tonumber(string.match(oldest, '^(%d+)'))
