-- journal-position: the position of a named journal consumer in one trigger-log stream.
-- KEYS[1] the trigger log stream of a partition. ARGV[1] the consumer group, ARGV[2] the id the
-- consumer has processed up to ('' = leave the position as it is).
-- Creates the group at the start of the log on first use (so trimming waits for it from then
-- on), moves it to ARGV[2] when given, and returns the group's last-delivered id.
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], '0', 'MKSTREAM')
if not ok and not string.find(tostring(err.err or err), 'BUSYGROUP', 1, true) then
  return redis.error_reply(err.err or tostring(err))
end
if ARGV[2] ~= '' then redis.call('XGROUP', 'SETID', KEYS[1], ARGV[1], ARGV[2]) end
for _, row in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
  local info = {}
  for i = 1, #row, 2 do info[row[i]] = row[i + 1] end
  if info['name'] == ARGV[1] then return info['last-delivered-id'] end
end
return '0-0'
