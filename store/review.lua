--[[
A tenant's review queue (store/review.py): add evidence, label it. Atomic per call.

Every key shares the tenant's hash tag, and every key the script touches is in KEYS (as the
cluster spec asks). One hash per item (ARGV prefix .. id, passed in KEYS) holds:
  item     the evidence and tenant, JSON, written once
  verdict  the latest verdict, JSON (replaced while the item is open)
  n        how many events brought this evidence
  first    arrival of the first one (epoch seconds); last: of the latest one
  ex       up to EXAMPLES example events, one JSON object per line
  ne       how many examples ``ex`` holds
  status   'open' or 'labelled'
  label    the analyst's label, JSON; lt: when it was labelled
Nothing is decoded here: values are passed through as strings, so the JSON stays exactly
what Python wrote.

Ordering sets (all members scored 0, ordered by their text, so a cursor is a member):
  KEYS[1]  open items, oldest first:        "<first:10>:<id>"
  KEYS[2]  open items, most frequent first: "<9999999999-n:10>:<first:10>:<id>"
  KEYS[3]  labelled items, in label order:  "<lt:10>:<id>"
  KEYS[4]  stats hash (dropped: open items evicted by the bound)

KEYS[5...] the keys of the items the call names, in its order (for 'trim': the items it may
  drop; it drops no other, and stops when the one to drop was not named)

ARGV[1] 'add', 'trim', 'label' or 'unlabel'; ARGV[2] item key prefix; ARGV[3] now
add:   ARGV[4] most open items kept; then per item 6 values:
       id, item JSON, verdict JSON, events, examples (JSON lines), number of examples
       Returns {items created, open items beyond the bound} (store/review.py then trims).
trim:  ARGV[4] most open items kept. Drops the least useful open items, while beyond the
       bound and while the next to drop is among KEYS[5...]; returns how many remain beyond it.
label: ARGV[4] id, ARGV[5] label JSON. Returns 0 (no such item), 1 (labelled) or 2 (re-labelled).
unlabel: ARGV[4] id, ARGV[5] the label JSON expected (an analyst's undo takes back their own
       label, not one somebody set since). Returns 1 (open again) or 0 (no such item, not
       labelled, or labelled differently since).
--]]
local EXAMPLES = 5
local prefix, now = ARGV[2], tonumber(ARGV[3])

local function by_time(first, id) return string.format('%010d:%s', first, id) end
local function by_count(n, first, id) return string.format('%010d:%010d:%s', 9999999999 - n, first, id) end

local declared = {}
for i = 5, #KEYS do declared[KEYS[i]] = true end

local function drop_least_useful()
  -- the least frequent item, and among those the oldest: a new phrasing can still collect
  -- its count while a full queue sheds what nobody has seen again. False when that item's
  -- key was not passed in KEYS (the caller reads the candidates again and retries).
  local last = redis.call('ZRANGE', KEYS[2], -1, -1)[1]
  local head = string.sub(last, 1, 11)
  local member = redis.call('ZRANGE', KEYS[2], '[' .. head, '(' .. head .. '~', 'BYLEX', 'LIMIT', 0, 1)[1]
  local first, id = string.match(member, '^%d+:(%d+):(.+)$')
  if not declared[prefix .. id] then return false end
  redis.call('ZREM', KEYS[2], member)
  redis.call('ZREM', KEYS[1], by_time(tonumber(first), id))
  redis.call('DEL', prefix .. id)
  redis.call('HINCRBY', KEYS[4], 'dropped', 1)
  return true
end

if ARGV[1] == 'add' then
  local max, created = tonumber(ARGV[4]), 0
  for i = 5, #ARGV, 6 do
    local id, item, verdict, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], tonumber(ARGV[i + 3])
    local examples, nex = ARGV[i + 4], tonumber(ARGV[i + 5])
    local key = KEYS[5 + (i - 5) / 6]
    local state = redis.call('HMGET', key, 'status', 'n', 'first', 'ne', 'ex')
    if not state[1] then
      redis.call('HSET', key, 'item', item, 'verdict', verdict, 'n', n, 'first', now, 'last', now,
                 'ex', examples, 'ne', nex, 'status', 'open')
      redis.call('ZADD', KEYS[1], 0, by_time(now, id))
      redis.call('ZADD', KEYS[2], 0, by_count(n, now, id))
      created = created + 1
    else
      local old, first, ne = tonumber(state[2]), tonumber(state[3]), tonumber(state[4])
      redis.call('HSET', key, 'n', old + n, 'last', now)
      if state[1] == 'open' then
        redis.call('HSET', key, 'verdict', verdict)
        redis.call('ZREM', KEYS[2], by_count(old, first, id))
        redis.call('ZADD', KEYS[2], 0, by_count(old + n, first, id))
      end
      if ne < EXAMPLES and nex > 0 then
        local kept, count = state[5], ne
        for line in string.gmatch(examples, '[^\n]+') do
          if count >= EXAMPLES then break end
          kept = (kept ~= '' and kept .. '\n' or '') .. line
          count = count + 1
        end
        redis.call('HSET', key, 'ex', kept, 'ne', count)
      end
    end
  end
  return {created, math.max(0, redis.call('ZCARD', KEYS[2]) - max)}
end

if ARGV[1] == 'trim' then
  local max = tonumber(ARGV[4])
  while redis.call('ZCARD', KEYS[2]) > max do
    if not drop_least_useful() then break end
  end
  return math.max(0, redis.call('ZCARD', KEYS[2]) - max)
end

if ARGV[1] == 'label' then
  local id = ARGV[4]
  local key = KEYS[5]
  local state = redis.call('HMGET', key, 'status', 'n', 'first', 'lt')
  if not state[1] then return 0 end
  local result = 1
  if state[1] == 'open' then
    local n, first = tonumber(state[2]), tonumber(state[3])
    redis.call('ZREM', KEYS[1], by_time(first, id))
    redis.call('ZREM', KEYS[2], by_count(n, first, id))
  else
    redis.call('ZREM', KEYS[3], by_time(tonumber(state[4]), id))
    result = 2
  end
  redis.call('HSET', key, 'status', 'labelled', 'label', ARGV[5], 'lt', now)
  redis.call('ZADD', KEYS[3], 0, by_time(now, id))
  return result
end

if ARGV[1] == 'unlabel' then
  local id = ARGV[4]
  local key = KEYS[5]
  local state = redis.call('HMGET', key, 'status', 'n', 'first', 'lt', 'label')
  if state[1] ~= 'labelled' or state[5] ~= ARGV[5] then return 0 end
  local n, first = tonumber(state[2]), tonumber(state[3])
  redis.call('ZREM', KEYS[3], by_time(tonumber(state[4]), id))
  redis.call('HSET', key, 'status', 'open')
  redis.call('HDEL', key, 'label', 'lt')
  redis.call('ZADD', KEYS[1], 0, by_time(first, id))
  redis.call('ZADD', KEYS[2], 0, by_count(n, first, id))
  return 1
end

return redis.error_reply('unknown review operation ' .. tostring(ARGV[1]))
