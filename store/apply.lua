--[[
Apply one classified event to one address, atomically and at most once.

KEYS[1]  hash of address records for the address's bucket
KEYS[2]  dedup marker of this event
KEYS[3]  history list of this address
ARGV[1]  normalised address (field in KEYS[1])
ARGV[2]  JSON list of operations planned by store/policy.py (or store/suppressions.py)
ARGV[3]  JSON history entry (without the effects, which are known only here); '' for none
ARGV[4]  dedup window in seconds; '0': no dedup marker (idempotent operations only)
ARGV[5]  history length kept
ARGV[6]  now, epoch seconds
ARGV[7]  'a': always add the history entry; 'e': only when the event changed a suppression
ARGV[8]  seconds the history is kept after its last entry; '0': no expiry
ARGV[9]  (optional) the operation's id (a batch's, a person's change's): the dedup marker
         keeps it with the effects, and a run of the same operation that finds its own
         marker (the batch sent again after a lost connection, a recovery pass finishing a
         person's change: store/suppressions.py) answers those effects instead of 0, so a
         retried operation counts as its first try did

Returns 0 for a duplicate, otherwise a JSON list of effects ("+key" added, "-key" lifted).

The record (a JSON object; only what is non-empty is stored, to keep it small):
  s  suppressions, by key (code, or code:subscription): t since, u until, e evidence,
     n times re-confirmed, sub subscription, st the one stream it blocks ('*': every
     stream; none: the policy's streams for the code)
  c  bounce category -> recent event times (the "n within a window" rules)
  x  bounce category -> times a temporary suppression was imposed (escalation)
  f  stream -> {month, messages this month, time the cap was reached or 0}
  g  stream -> {sends without engagement, streak start, time the threshold was reached or 0,
               time of the last open/click}
  m  digests of the last messages counted (a send and its delivery count once)
--]]
-- reads first: a script that fails (a key of the wrong type, a record that is not JSON) is
-- not rolled back, and a dedup marker written before the failure would turn the ESP's retry
-- into a "duplicate", losing the event
local ops = cjson.decode(ARGV[2])
local now = tonumber(ARGV[6])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local rec = raw and cjson.decode(raw) or {}

local dedup = tonumber(ARGV[4])
local opid = ARGV[9] or ''
if dedup > 0 and not redis.call('SET', KEYS[2], opid, 'NX', 'EX', dedup) then
  if opid ~= '' then
    local mark = redis.call('GET', KEYS[2])
    if mark and string.sub(mark, 1, #opid + 1) == opid .. '|' then
      -- rewritten: a write, so that a WAIT after this replay covers the first run too
      redis.call('SET', KEYS[2], mark, 'KEEPTTL')
      return string.sub(mark, #opid + 2)
    end
  end
  return 0
end
local s = rec.s or {}
local c = rec.c or {}
local x = rec.x or {}
local f = rec.f or {}
local g = rec.g or {}
local m = rec.m or {}
local fx = {}
local changed = false

local function code_of(key)
  return string.match(key, '^[^:]+')
end

-- expired suppressions go first: they would otherwise block re-suppression's "since"
for key, sup in pairs(s) do
  if sup.u and sup.u <= now then
    s[key] = nil
    changed = true
  end
end

local function listed(list, v)
  for _, x in ipairs(list or {}) do
    if x == v then return true end
  end
  return false
end

-- the streams an existing suppression blocks only ever widen, to the union with the new
-- one's: st nil is the policy's streams for the code (sup.ps says which, when known), a
-- stream name that stream only, '*' every stream
local function widen(cur, sup)
  if cur.st == sup.st or cur.st == '*' then return end
  if sup.st == nil then
    if listed(sup.ps, cur.st) then cur.st = nil else cur.st = '*' end
  elseif cur.st == nil then
    if not listed(sup.ps, sup.st) then cur.st = '*' end
  else
    cur.st = '*'
  end
end

local function suppress(sup)
  if sup.u and sup.u <= now then return end     -- reported after it would have ended
  local cur = s[sup.key]
  if cur then
    widen(cur, sup)
    if cur.u and (not sup.u or sup.u > cur.u) then cur.u = sup.u end
    if sup.t < cur.t then cur.t = sup.t end
    cur.e = sup.e
    cur.n = (cur.n or 1) + 1
  else
    s[sup.key] = {t = sup.t, u = sup.u, e = sup.e, sub = sup.sub, st = sup.st}
    fx[#fx + 1] = '+' .. sup.key
  end
  changed = true
end

-- times within `win` seconds of the newest one (win 0: no window), oldest first, at most `keep`
local function window(list, t, win, keep)
  local all = {}
  for _, ts in ipairs(list or {}) do all[#all + 1] = ts end
  all[#all + 1] = t
  table.sort(all)
  local kept = {}
  local cutoff = all[#all] - win
  for _, ts in ipairs(all) do
    if win == 0 or ts > cutoff then kept[#kept + 1] = ts end
  end
  while #kept > keep do table.remove(kept, 1) end
  return kept
end

local function count(op)
  local kept = window(c[op.k], op.t, op.win, op.keep)
  changed = true
  if not op.sup or #kept < op.n then
    c[op.k] = kept
    return
  end
  c[op.k] = nil                                  -- the suppression now carries the count
  local sup = op.sup
  if op.esc and not s[sup.key] then              -- a new episode of a temporary suppression
    local times = window(x[op.k], op.t, op.esc.win, op.esc.n)
    if #times >= op.esc.n then
      sup = op.esc.sup
      x[op.k] = nil
    else
      x[op.k] = times
    end
  end
  suppress(sup)
end

local function message(op)
  for _, d in ipairs(m) do
    if d == op.m then return end                 -- this message was counted already
  end
  m[#m + 1] = op.m
  while #m > 8 do table.remove(m, 1) end
  changed = true
  if op.f == 1 then
    local cur = f[op.st]
    if not cur or cur[1] < op.mon then
      cur = {op.mon, 0, 0}
      f[op.st] = cur
    end
    if cur[1] == op.mon then
      cur[2] = cur[2] + 1
      if op.cap > 0 and cur[2] >= op.cap and cur[3] == 0 then cur[3] = op.t end
    end
  end
  if op.g == 1 then
    local cur = g[op.st]
    if not cur then
      cur = {0, 0, 0, 0}
      g[op.st] = cur
    end
    if op.t >= cur[4] then                       -- sent after the last open/click
      if cur[1] == 0 then cur[2] = op.t end
      cur[1] = cur[1] + 1
      if op.le > 0 and cur[1] >= op.le and cur[3] == 0 then cur[3] = op.t end
    end
  end
end

for _, op in ipairs(ops) do
  if op.op == 'count' then
    count(op)
  elseif op.op == 'suppress' then
    suppress(op.sup)
  elseif op.op == 'lift' then
    for _, key in ipairs(op.keys) do
      -- a lift only undoes what started before it: a late "delivered" must not lift a
      -- suppression caused by a bounce that happened after the delivery; a person's lift
      -- (op.any) undoes it whenever it started
      for k, sup in pairs(s) do
        -- (string.lower: opt-outs stored before subscription names were normalised)
        if (k == key or string.lower(k) == key or code_of(k) == key) and (op.any or sup.t <= op.t) then
          s[k] = nil
          fx[#fx + 1] = '-' .. k
          changed = true
        end
      end
    end
  elseif op.op == 'reset' then
    for _, k in ipairs(op.ks) do
      if c[k] then
        local kept = {}
        for _, ts in ipairs(c[k]) do
          if ts > op.t and not op.any then kept[#kept + 1] = ts end
        end
        if #kept ~= #c[k] then changed = true end
        c[k] = (#kept > 0) and kept or nil
      end
    end
  elseif op.op == 'msg' then
    message(op)
  elseif op.op == 'clear' then
    -- a person lifted the counter-derived reasons: start the counts afresh from now
    for st, cur in pairs(g) do
      if op.le > 0 and cur[1] >= op.le then fx[#fx + 1] = '-low_engagement:' .. st end
      g[st] = {0, 0, 0, op.t}
      changed = true
    end
    for st, cur in pairs(f) do
      local cap = op.caps[st]
      if cap and cap > 0 and cur[1] == op.mon and cur[2] >= cap then fx[#fx + 1] = '-frequency_capped:' .. st end
      f[st] = nil
      changed = true
    end
    if next(x) then
      x = {}
      changed = true
    end
  elseif op.op == 'recl' then
    -- reclassification (store/reclassify.py): add what the new verdicts impose and the record
    -- lacks; lift what only the old verdicts imposed, and only if a bounce made it (its
    -- evidence names a reason, not a person or an import)
    for _, sup in ipairs(op.add) do
      if not s[sup.key] and not (sup.u and sup.u <= now) then
        s[sup.key] = {t = sup.t, u = sup.u, e = sup.e, sub = sup.sub, st = sup.st, n = sup.n}
        fx[#fx + 1] = '+' .. sup.key
        changed = true
      end
    end
    for _, key in ipairs(op.lift) do
      local sup = s[key]
      if sup and sup.e and sup.e.r and not sup.e.by and not sup.e.import then
        s[key] = nil
        fx[#fx + 1] = '-' .. key
        changed = true
      end
    end
  elseif op.op == 'engaged' then
    for st, cur in pairs(g) do
      if (op.st == '' or op.st == st) and op.t >= cur[4] then
        g[st] = {0, 0, 0, op.t}
        changed = true
      end
    end
  end
end

if changed then
  rec.s = next(s) and s or nil
  rec.c = next(c) and c or nil
  rec.x = next(x) and x or nil
  rec.f = next(f) and f or nil
  rec.g = next(g) and g or nil
  rec.m = next(m) and m or nil
  if next(rec) then
    redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
  elseif raw then
    redis.call('HDEL', KEYS[1], ARGV[1])
  end
end

local effects = (#fx > 0) and cjson.encode(fx) or '[]'
if dedup > 0 and opid ~= '' then
  redis.call('SET', KEYS[2], opid .. '|' .. effects, 'KEEPTTL')
end
if ARGV[3] ~= '' and (ARGV[7] == 'a' or #fx > 0) then
  redis.call('LPUSH', KEYS[3], '{"fx":' .. effects .. ',' .. string.sub(ARGV[3], 2))
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
  local ttl = tonumber(ARGV[8])
  if ttl > 0 then redis.call('EXPIRE', KEYS[3], ttl) end
end
return effects
