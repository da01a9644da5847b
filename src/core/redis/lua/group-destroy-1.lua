-- group-destroy: removes a consumer group from a stream, if both exist.
-- KEYS[1] stream. ARGV[1] group. Returns 1 when removed, 0 when there was no such group or stream.
-- A script rather than XGROUP so that Redis Cluster routes it by its key (XGROUP has none).
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
return redis.call('XGROUP', 'DESTROY', KEYS[1], ARGV[1])
