-- campaign-commit: records the outcomes of a batch of campaign jobs of one partition atomically
-- with the removal of their inputs (numKeys is dynamic; every key is in the partition).
-- KEYS[1] the input: the trigger log stream (mode 'stream') or a waiting/paused zset;
-- KEYS[2] the partition's campaign jobs hash; KEYS[3..] records, indexes, counters, outboxes,
-- dead letters, waiting zsets, referenced by index below.
-- ARGV[1] mode: stream | waiting; ARGV[2] group; ARGV[3] retention ms; ARGV[4] unit count;
-- then per unit (one input entry or one waiting member):
--   gate id (entry id or member), job count, and per job 16 values (keys as KEYS indexes):
--   recordKey, statsKey, indexKey (0 = none), messageId, eventId, status, reason ('' = none),
--   receivedAt, fields (cmsgpack map of record fields), outKey (0 = none), outPayload,
--   waitKey (0 = none: else ZADD waitKey waitScore messageId and keep the job), waitScore,
--   dlqKey (0 = none), dlqError, payload (the job kept while waiting, or the trigger log entry
--   the dead letters keep so that a replay after a fix renders it again).
-- A unit is written only when this call removes its input (XACK = 1 or ZREM = 1), so two
-- processes holding the same entry or member never both write. A job whose record exists is a
-- duplicate trigger message and changes nothing, unless it comes back from waiting or its
-- render failed before (a replay after a fix). Returns per job 1 when written, else 0.
local mode, group, retention = ARGV[1], ARGV[2], tonumber(ARGV[3])
local units = tonumber(ARGV[4])
local transient = { pending = true, paused = true, processing = true }
local at = 5
local written = {}
for _ = 1, units do
  local gate, jobs = ARGV[at], tonumber(ARGV[at + 1])
  at = at + 2
  local open
  if mode == 'stream' then
    open = redis.call('XACK', KEYS[1], group, gate) == 1
  else
    open = redis.call('ZREM', KEYS[1], gate) == 1
    if open then redis.call('HDEL', KEYS[2], gate) end
  end
  for _ = 1, jobs do
    local wrote = 0
    if open then
      local record, stats, index = KEYS[tonumber(ARGV[at])], KEYS[tonumber(ARGV[at + 1])], tonumber(ARGV[at + 2])
      local id, event, status, reason = ARGV[at + 3], ARGV[at + 4], ARGV[at + 5], ARGV[at + 6]
      local duplicate = false
      if mode == 'stream' then
        local before = redis.call('HMGET', record, 'status', 'reason')
        duplicate = before[1] ~= false and before[2] ~= 'renderFailed'
        if not duplicate then redis.call('HINCRBY', stats, event .. '|received', 1) end
      end
      if not duplicate then
        wrote = 1
        local fields = cmsgpack.unpack(ARGV[at + 8])
        local flat = { 'status', status, 'reason', reason }
        for name, value in pairs(fields) do
          flat[#flat + 1] = name
          flat[#flat + 1] = value
        end
        redis.call('HSET', record, unpack(flat))
        redis.call('PEXPIRE', record, retention)
        if not transient[status] then
          redis.call('HINCRBY', stats, event .. '|' .. status, 1)
          if reason ~= '' then redis.call('HINCRBY', stats, event .. '|' .. status .. '|' .. reason, 1) end
        end
        redis.call('PEXPIRE', stats, retention)
        if index > 0 then
          redis.call('ZADD', KEYS[index], ARGV[at + 7], id)
          redis.call('ZREMRANGEBYSCORE', KEYS[index], '-inf', tonumber(ARGV[at + 7]) - retention)
          redis.call('PEXPIRE', KEYS[index], retention)
        end
        local out = tonumber(ARGV[at + 9])
        if out > 0 then redis.call('XADD', KEYS[out], '*', 'd', ARGV[at + 10]) end
        local wait = tonumber(ARGV[at + 11])
        if wait > 0 then
          redis.call('ZADD', KEYS[wait], ARGV[at + 12], id)
          redis.call('HSET', KEYS[2], id, ARGV[at + 15])
        end
        local dlq = tonumber(ARGV[at + 13])
        if dlq > 0 then
          redis.call('XADD', KEYS[dlq], '*', 'd', ARGV[at + 15], 'id', id, 'group', group, 'error', ARGV[at + 14], 'deliveries', '1')
        end
      end
    end
    written[#written + 1] = wrote
    at = at + 16
  end
end
return written
