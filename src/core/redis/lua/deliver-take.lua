-- deliver-take: takes due retries of one channel of a partition for this process (numKeys is
-- dynamic). KEYS[1] the retry zset (keys.deliveryRetries), KEYS[1 + i] the claim hash of the
-- i-th candidate. ARGV[1] now (ms), ARGV[2] lease (ms), ARGV[3] token, ARGV[3 + i] the i-th
-- candidate's message id.
-- A candidate still due is leased, not removed: its score moves to now + lease, so if this
-- process dies before recording, another one takes it when the lease ends (a resend with the
-- same Message-ID). The claim is marked s = sending with this process's token; deliver-record
-- accepts the outcome only with that token. Two processes racing on a member: one takes it.
-- A member whose claim lost its bytes (expired long after validity) is dropped.
-- Returns, per taken member: id, message bytes, attempt number.
local zset, now, lease, token = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local out = {}
for i = 2, #KEYS do
  local id = ARGV[i + 2]
  local score = redis.call('ZSCORE', zset, id)
  if score and tonumber(score) <= now then
    local claim = redis.call('HMGET', KEYS[i], 'd', 'n')
    if not claim[1] then
      redis.call('ZREM', zset, id)
    else
      local n = (tonumber(claim[2]) or 0) + 1
      redis.call('ZADD', zset, now + lease, id)
      redis.call('HSET', KEYS[i], 's', 'sending', 't', token, 'n', n, 'at', now)
      out[#out + 1] = id
      out[#out + 1] = claim[1]
      out[#out + 1] = n
    end
  end
end
return out
