-- deliver-claim: the idempotency claim of each message of a batch, before its hand-off (numKeys
-- is dynamic). KEYS[i] the claim hash of item i (keys.deliveryClaim). ARGV[1] now (ms),
-- ARGV[2] claimRetention (ms), ARGV[3] stale (ms), then per item: outbox entry id, expiresAt (ms).
-- A claim holds s (sending | retry | done), e (the outbox entry that claimed it), n (sends),
-- at (when it was last claimed for sending).
-- Per item, returns an action and the attempt number:
--   send     no claim yet: claimed now (s = sending), hand it over.
--   resend   this very entry claimed it and never recorded an outcome: the process that held it
--            died (or stalled past claimIdle) around the hand-off, so it may have been sent:
--            send again, with the same Message-ID (docs/operations.md). Also when another
--            entry claimed it longer than `stale` ago without an outcome (its process is gone:
--            the message came back as a new entry, e.g. replayed from the dead letters).
--   skip     another entry (a duplicate) claimed it, or it is done or waits for a retry: only
--            acknowledge the entry.
--   expired  expiresAt passed and no other entry claimed it: tooOld, never sent.
-- The claim lives until expiresAt + claimRetention, so a duplicate never sends it again.
local now = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local stale = tonumber(ARGV[3])
local out = {}
for i = 1, #KEYS do
  local entry, expires = ARGV[2 + 2 * i], tonumber(ARGV[3 + 2 * i])
  local claim = KEYS[i]
  local state = redis.call('HMGET', claim, 's', 'e', 'n', 'at')
  local action, n = 'skip', 0
  if not state[1] then
    if now >= expires then
      action = 'expired'
    else
      redis.call('HSET', claim, 's', 'sending', 'e', entry, 'n', 1, 'at', now)
      redis.call('PEXPIREAT', claim, expires + keep)
      action, n = 'send', 1
    end
  elseif state[1] == 'sending' and (state[2] == entry or now - (tonumber(state[4]) or 0) >= stale) then
    n = tonumber(state[3]) or 1
    if now >= expires then
      action = 'expired'
    else
      n = n + 1
      redis.call('HSET', claim, 'n', n, 'e', entry, 'at', now)
      action = 'resend'
    end
  end
  out[#out + 1] = action
  out[#out + 1] = n
end
return out
