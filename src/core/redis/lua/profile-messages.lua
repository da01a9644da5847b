-- profile-messages: adds a batch's messages to their profiles' message indexes (one sorted set
-- per profile, scored by receipt time) and keeps each index alive as long as its newest member.
-- Keys of many slots: for a single node only (on a cluster, ZADD and PEXPIRE per key instead).
-- KEYS[i] the index of entry i; ARGV[1] time to live (ms); ARGV[2i], ARGV[2i + 1] its score and member.
local ttl = ARGV[1]
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, ARGV[2 * i], ARGV[2 * i + 1])
  redis.call('PEXPIRE', key, ttl)
end
return #KEYS
