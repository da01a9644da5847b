-- dlq-replay: puts one dead letter back on the stream it came from, and removes it from the
-- dead-letter stream, in one step (a replay twice, or by two operators at once, adds it once).
-- KEYS[1] the dead-letter stream, KEYS[2] the stream (same partition). ARGV[1] dead letter id.
-- Returns {'replayed', new id}, {'missing', ''} when it is gone (replayed or purged meanwhile)
-- or {'empty', ''} when the dead letter kept no data (the entry had been trimmed): left as is.
local entry = redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1])
if not entry[1] then return {'missing', ''} end
local data = ''
local fields = entry[1][2]
for i = 1, #fields, 2 do
  if fields[i] == 'd' then data = fields[i + 1] end
end
if data == '' then return {'empty', ''} end
local id = redis.call('XADD', KEYS[2], '*', 'd', data)
redis.call('XDEL', KEYS[1], ARGV[1])
return {'replayed', id}
