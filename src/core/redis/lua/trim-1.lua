-- trim: removes the entries of a stream that every consumer group has acknowledged, and no more.
-- KEYS[1] stream. The bound is the smallest of, per group, its oldest pending id or (nothing
-- pending) the id right after its last delivered one. A stream without groups is left alone.
-- Atomic, so a group cannot move between reading the bound and trimming. Returns entries removed.
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
if #groups == 0 then return 0 end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local minMs, minSeq = nil, nil
for _, row in ipairs(groups) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  local ms, seq
  if tonumber(info['pending']) > 0 then
    ms, seq = parse(redis.call('XPENDING', KEYS[1], info['name'])[2])
  else
    ms, seq = parse(info['last-delivered-id'])
    seq = seq + 1
  end
  if minMs == nil or ms < minMs or (ms == minMs and seq < minSeq) then
    minMs, minSeq = ms, seq
  end
end
return redis.call('XTRIM', KEYS[1], 'MINID', '~', string.format('%d-%d', minMs, minSeq))
