-- deliver-receipt: writes an SMS delivery receipt on its message record, if the record exists
-- (an expired record is not brought back as a stray hash).
-- KEYS[1] the record hash. ARGV[1] state (DELIVRD, UNDELIV, …), ARGV[2] received at (ms),
-- ARGV[3] the gateway's error code or ''. Returns 1 when written, 0 when there is no record.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'receipt', ARGV[1], 'receiptAt', ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'receiptError', ARGV[3]) end
return 1
