-- commit: the atomic hand-off of one batch of one partition (numKeys is dynamic).
-- KEYS[1] input stream, KEYS[2] the group's errors hash, KEYS[3..] output streams.
-- ARGV[1] group, ARGV[2] item count, then per item: entry id, clear-error flag (0|1), output
-- count, and per output: KEYS index, payload. Then failed count, and per failure: id, error.
-- An item's outputs are appended only if this call acknowledges it (XACK = 1): when two
-- consumers hold the same entry (one was claimed from the other), only the first commit
-- writes, so nothing is output twice. Returns the number of items committed.
local group = ARGV[1]
local n = tonumber(ARGV[2])
local at = 3
local committed = 0
for _ = 1, n do
  local id, clear, outs = ARGV[at], ARGV[at + 1], tonumber(ARGV[at + 2])
  at = at + 3
  if redis.call('XACK', KEYS[1], group, id) == 1 then
    committed = committed + 1
    for o = 0, outs - 1 do
      redis.call('XADD', KEYS[tonumber(ARGV[at + 2 * o])], '*', 'd', ARGV[at + 2 * o + 1])
    end
    if clear == '1' then redis.call('HDEL', KEYS[2], id) end
  end
  at = at + 2 * outs
end
local failed = tonumber(ARGV[at])
for f = 1, failed do
  redis.call('HSET', KEYS[2], ARGV[at + 2 * f - 1], ARGV[at + 2 * f])
end
return committed
