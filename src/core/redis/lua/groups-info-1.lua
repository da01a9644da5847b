-- groups-info: XINFO GROUPS of a stream, or an empty list when the stream does not exist.
-- KEYS[1] stream. A script so that Redis Cluster routes it by its key (XINFO has none).
if redis.call('EXISTS', KEYS[1]) == 0 then return {} end
return redis.call('XINFO', 'GROUPS', KEYS[1])
