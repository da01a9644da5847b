-- group-create: creates a consumer group (and its stream) unless it exists.
-- KEYS[1] stream. ARGV[1] group, ARGV[2] start id. Returns 1 when created, 0 when it existed.
-- A script rather than XGROUP so that Redis Cluster routes it by its key (XGROUP has none).
local ok, err = pcall(redis.call, 'XGROUP', 'CREATE', KEYS[1], ARGV[1], ARGV[2], 'MKSTREAM')
if ok then return 1 end
if string.find(tostring(err.err or err), 'BUSYGROUP', 1, true) then return 0 end
return redis.error_reply(err.err or tostring(err))
