-- campaign-commit: records the outcomes of a batch of campaign jobs of one partition atomically
-- with the removal of their inputs (numKeys is dynamic; every key is in the partition, but for
-- the profiles' message indexes, which are passed on a single node only).
-- KEYS[1] the input: the trigger log stream (mode 'stream') or a waiting/paused zset;
-- KEYS[2] the partition's campaign jobs hash; KEYS[3..] records, indexes, counters, outboxes,
-- dead letters, waiting zsets, referenced by index below.
-- ARGV[1] mode: stream | waiting; ARGV[2] group; ARGV[3] retention ms; ARGV[4] the batch, plain
-- MessagePack (one argument instead of 16 per job): an array of units (one input entry or one
-- waiting member), each { gate id (entry id or member), jobs }, each job an array of
--   recordKey, statsKey, indexKey (0 = none), messageId, eventId, status, reason ('' = none),
--   receivedAt, fields (map of record fields), outKey (0 = none), outPayload, waitKey (0 = none:
--   else ZADD waitKey waitScore messageId and keep the job), waitScore, dlqKey (0 = none),
--   dlqError, payload (the job kept while waiting, or the trigger log entry the dead letters keep
--   so that a replay after a fix renders it again), profileKey, profileMember;
-- keys as KEYS indexes; outPayload and payload (binary, which cmsgpack does not read) as ARGV
-- indexes, 0 = none.
-- Optionally (a single node only: these keys are in other slots) a job names its profile's
-- message index: profileKey (0 = none), profileMember: ZADD profileKey receivedAt profileMember,
-- kept alive for the retention like the other keys, when the job is written.
-- A unit is written only when this call removes its input (XACK = 1 or ZREM = 1), so two
-- processes holding the same entry or member never both write. A job whose record exists is a
-- duplicate trigger message and changes nothing, unless it comes back from waiting or its
-- render failed before (a replay after a fix). Returns per job 1 when written, else 0.
-- Within the call, what repeats per key is done once with the same end state: counter increments
-- are summed and applied at the end, a key's PEXPIRE (same time, same ttl) once, and an index's
-- trim skipped when an earlier trim already removed everything it would.
local mode, group, retention = ARGV[1], ARGV[2], tonumber(ARGV[3])
local units = cmsgpack.unpack(ARGV[4])
local transient = { pending = true, paused = true, processing = true }
local written = {}
local counts, countOrder = {}, {}
local expiring, expiringOrder = {}, {}
local trimmedTo, lowestSince = {}, {}
local function count(key, field)
  local of = counts[key]
  if of == nil then
    of = { by = {}, order = {} }
    counts[key] = of
    countOrder[#countOrder + 1] = key
  end
  if of.by[field] == nil then
    of.by[field] = 0
    of.order[#of.order + 1] = field
  end
  of.by[field] = of.by[field] + 1
end
local function expire(key)
  if not expiring[key] then
    expiring[key] = true
    expiringOrder[#expiringOrder + 1] = key
  end
end
-- ZADD then trim below `score - retention`, as if trimmed after every add.
local function index(key, score, id)
  redis.call('ZADD', key, score, id)
  local cutoff = score - retention
  local since = lowestSince[key]
  if since == nil or score < since then lowestSince[key] = score end
  -- After a trim nothing is left at or below its cutoff but what was added since: a later trim
  -- with a cutoff no higher, and nothing added since at or below it, would remove nothing.
  local done = trimmedTo[key]
  if done == nil or cutoff > done or lowestSince[key] <= cutoff then
    redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
    trimmedTo[key] = cutoff
    lowestSince[key] = nil
  end
  expire(key)
end
for _, unit in ipairs(units) do
  local gate = unit[1]
  local open
  if mode == 'stream' then
    open = redis.call('XACK', KEYS[1], group, gate) == 1
  else
    open = redis.call('ZREM', KEYS[1], gate) == 1
    if open then redis.call('HDEL', KEYS[2], gate) end
  end
  for _, job in ipairs(unit[2]) do
    local wrote = 0
    if open then
      local record, stats, indexKey = KEYS[job[1]], KEYS[job[2]], job[3]
      local id, event, status, reason, receivedAt = job[4], job[5], job[6], job[7], job[8]
      local duplicate = false
      if mode == 'stream' then
        local before = redis.call('HMGET', record, 'status', 'reason')
        duplicate = before[1] ~= false and before[2] ~= 'renderFailed'
        if not duplicate then count(stats, event .. '|received') end
      end
      if not duplicate then
        wrote = 1
        local flat = { 'status', status, 'reason', reason }
        for name, value in pairs(job[9]) do
          flat[#flat + 1] = name
          flat[#flat + 1] = value
        end
        redis.call('HSET', record, unpack(flat))
        redis.call('PEXPIRE', record, retention)
        if not transient[status] then
          count(stats, event .. '|' .. status)
          if reason ~= '' then count(stats, event .. '|' .. status .. '|' .. reason) end
        end
        expire(stats)
        if indexKey > 0 then index(KEYS[indexKey], receivedAt, id) end
        if job[10] > 0 then redis.call('XADD', KEYS[job[10]], '*', 'd', ARGV[job[11]]) end
        if job[12] > 0 then
          redis.call('ZADD', KEYS[job[12]], job[13], id)
          redis.call('HSET', KEYS[2], id, ARGV[job[16]])
        end
        if job[14] > 0 then
          redis.call('XADD', KEYS[job[14]], '*', 'd', ARGV[job[16]], 'id', id, 'group', group, 'error', job[15], 'deliveries', '1')
        end
        if job[17] > 0 then
          redis.call('ZADD', KEYS[job[17]], receivedAt, job[18])
          expire(KEYS[job[17]])
        end
      end
    end
    written[#written + 1] = wrote
  end
end
for _, key in ipairs(countOrder) do
  local of = counts[key]
  for _, field in ipairs(of.order) do redis.call('HINCRBY', key, field, of.by[field]) end
end
for _, key in ipairs(expiringOrder) do redis.call('PEXPIRE', key, retention) end
return written
