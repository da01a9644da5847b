-- members: the live members of a group of processes (the consumers of one stage), for sharing
-- that stage's partitions among them. KEYS[1] zset, member = consumer name, score = when its
-- membership ends (ms, Redis clock). ARGV[1] consumer, ARGV[2] time to live in ms (0 = leave).
-- Drops the expired members, renews (or removes) the caller, and returns the live members sorted
-- by name, so every member computes the same assignment from the same list.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if ttl > 0 then
  redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
  redis.call('PEXPIRE', KEYS[1], ttl * 10)
else
  redis.call('ZREM', KEYS[1], ARGV[1])
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1)
table.sort(members)
return members
