-- dlq-purge: removes dead letters for good.
-- KEYS[1] a dead-letter stream. ARGV: the dead letter ids to remove; none = the whole stream.
-- Returns how many dead letters were removed.
if #ARGV == 0 then
  local n = redis.call('XLEN', KEYS[1])
  redis.call('DEL', KEYS[1])
  return n
end
return redis.call('XDEL', KEYS[1], unpack(ARGV))
