-- fatigue: checks a profile's fatigue rules and, when they all pass, records the send, atomically
-- (two processes never both pass a `max: 1`).
-- KEYS[1] the profile's sends zset (member `<messageId>|<channel>`, score = send time).
-- ARGV[1] now (ms), ARGV[2] member, ARGV[3] rule count, then per rule: max, window ms, channel
-- (email | sms | all). Adobe counts a window both before and after the contact date.
-- Returns 0 when recorded (or recorded before: a retried batch passes again), else the number
-- of the first rule that excludes the message (1-based).
local key, now, member = KEYS[1], tonumber(ARGV[1]), ARGV[2]
if redis.call('ZSCORE', key, member) then return 0 end
local rules, longest = tonumber(ARGV[3]), 0
for r = 1, rules do
  local max, window, channel = tonumber(ARGV[3 * r + 1]), tonumber(ARGV[3 * r + 2]), ARGV[3 * r + 3]
  if window > longest then longest = window end
  local sent = redis.call('ZRANGEBYSCORE', key, now - window, now + window)
  local count = 0
  for _, m in ipairs(sent) do
    if channel == 'all' or string.sub(m, -#channel - 1) == '|' .. channel then count = count + 1 end
  end
  if count >= max then return r end
end
redis.call('ZADD', key, now, member)
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - longest)
redis.call('PEXPIRE', key, longest * 2)
return 0
