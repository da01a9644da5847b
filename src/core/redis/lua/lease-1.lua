-- lease: takes, renews or releases a lease held by one owner (the stream-gauge collector).
-- KEYS[1] lease key. ARGV[1] owner, ARGV[2] time to live in ms (0 = release).
-- Returns 1 when the owner holds the lease afterwards, 0 otherwise. Atomic, so a lease that
-- expired and was taken by another owner meanwhile is never renewed or deleted by the old one.
local holder = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[2])
if ttl == 0 then
  if holder == ARGV[1] then redis.call('DEL', KEYS[1]) end
  return 0
end
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return 1
end
if holder then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ttl)
return 1
