-- deliver-record: records the outcome of each message of a batch, atomically with the XACK of its
-- outbox entry or the end of its retry lease (numKeys is dynamic). All keys of one partition.
-- KEYS[1] the channel's outbox stream, KEYS[2] its retry zset, KEYS[3..] claim, record and
-- stats hashes (referred to by index).
-- ARGV[1] group, ARGV[2] now (ms), ARGV[3] record retention (ms), ARGV[4] claim retention (ms),
-- ARGV[5] item count, then 15 values per item:
--   source (s = outbox entry | r = retry), entry id (s) or lease token (r), message id,
--   outcome (ack | final | retry), claim index, record index, stats index, event id, status,
--   reason, error, attempts, handedAt or nextAttemptAt (ms), message bytes (retry from s),
--   remote id (the server's id of the message: SMTP queue reply, SMSC message id).
-- An item is applied only by its owner: the XACK that acknowledges the entry (1), or the lease
-- token still on the claim with the member still in the zset; so two processes that both sent
-- a message record it once. A record whose status is final already is not changed again.
-- final: the claim becomes done, the member leaves the zset, the record gets the status, the
--   stats hash counts `<event>|<status>` (and `<event>|<status>|<reason>`).
-- retry: the member is scheduled at nextAttemptAt, the claim keeps the bytes (s = retry), the
--   record gets attempts, the last error and nextAttemptAt.
-- Returns, per item, 1 when applied to the record (counted), else 0.
local group, now, recordTtl, claimTtl, n = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local stream, zset = KEYS[1], KEYS[2]
local finals = { processed = true, deliveryFailed = true, tooOld = true, ignored = true, routingFailed = true, targetingFailed = true }
local applied = {}

local function touch(key, ttl)
  if redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ttl) end
end

for i = 0, n - 1 do
  local a = 5 + i * 15
  local source, ref, id, outcome = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4]
  local claim, record, stats = KEYS[tonumber(ARGV[a + 5])], KEYS[tonumber(ARGV[a + 6])], KEYS[tonumber(ARGV[a + 7])]
  local eventId, status, reason, err = ARGV[a + 8], ARGV[a + 9], ARGV[a + 10], ARGV[a + 11]
  local attempts, at, data, remoteId = ARGV[a + 12], ARGV[a + 13], ARGV[a + 14], ARGV[a + 15]
  local owned
  if source == 's' then
    owned = redis.call('XACK', stream, group, ref) == 1
  else
    owned = redis.call('HGET', claim, 't') == ref and redis.call('ZSCORE', zset, id) ~= false
  end
  local result = 0
  if owned and outcome ~= 'ack' then
    local current = redis.call('HGET', record, 'status')
    local open = not (current and finals[current])
    if outcome == 'retry' and open then
      redis.call('ZADD', zset, at, id)
      redis.call('HSET', claim, 's', 'retry')
      redis.call('HDEL', claim, 't')
      if data ~= '' then redis.call('HSET', claim, 'd', data) end
      redis.call('HSET', record, 'attempts', attempts, 'error', err, 'nextAttemptAt', at)
      if not current then redis.call('HSET', record, 'id', id, 'eventId', eventId, 'status', 'processing') end
      touch(record, recordTtl)
      result = 1
    else
      redis.call('HSET', claim, 's', 'done')
      redis.call('HDEL', claim, 'd', 't')
      touch(claim, claimTtl)
      redis.call('ZREM', zset, id)
      if outcome == 'final' and open then
        redis.call('HSET', record, 'id', id, 'eventId', eventId, 'status', status, 'attempts', attempts)
        redis.call('HDEL', record, 'nextAttemptAt')
        if reason ~= '' then redis.call('HSET', record, 'reason', reason) end
        if err ~= '' then redis.call('HSET', record, 'error', err) end
        if status == 'processed' then redis.call('HSET', record, 'handedAt', at) end
        if remoteId ~= '' then redis.call('HSET', record, 'remoteId', remoteId) end
        touch(record, recordTtl)
        redis.call('HINCRBY', stats, eventId .. '|' .. status, 1)
        if reason ~= '' then redis.call('HINCRBY', stats, eventId .. '|' .. status .. '|' .. reason, 1) end
        result = 1
      end
    end
  end
  applied[i + 1] = result
end
return applied
