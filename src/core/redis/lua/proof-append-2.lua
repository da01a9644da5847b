-- proof-append: writes a proof's message record and appends the proof to its outbox stream, in
-- one step, so a proof is never in the outbox without a record to follow it (or the reverse).
-- KEYS[1] the record hash, KEYS[2] the outbox stream (both in the test profile's partition).
-- ARGV[1] the record's time to live (ms), ARGV[2] the encoded OutboxMessage, ARGV[3..] record
-- field, value, field, value, …  Returns the outbox entry id.
local fields = {}
for i = 3, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return redis.call('XADD', KEYS[2], '*', 'd', ARGV[2])
