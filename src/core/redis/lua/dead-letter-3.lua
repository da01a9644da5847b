-- dead-letter: moves one pending entry that failed too often to the dead-letter stream.
-- KEYS[1] stream, KEYS[2] dead-letter stream, KEYS[3] the group's errors hash.
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] deliveries, ARGV[4] error when none was recorded.
-- Only moves it if it is still pending (XACK = 1), so two processes never dead-letter it twice.
-- Returns 1 when moved, 0 when somebody else acknowledged it first.
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
local err = redis.call('HGET', KEYS[3], ARGV[2]) or ARGV[4]
redis.call('HDEL', KEYS[3], ARGV[2])
local data = ''
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if entry[1] then
  local fields = entry[1][2]
  for i = 1, #fields, 2 do
    if fields[i] == 'd' then data = fields[i + 1] end
  end
end
redis.call('XADD', KEYS[2], '*', 'd', data, 'id', ARGV[2], 'group', ARGV[1], 'error', err, 'deliveries', ARGV[3])
return 1
