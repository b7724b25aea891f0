--[[
Apply one classified event to one address, atomically and at most once.

KEYS[1]  hash of address records for the address's bucket
KEYS[2]  dedup marker of this event
KEYS[3]  history list of this address
ARGV[1]  normalised address (field in KEYS[1])
ARGV[2]  JSON list of operations planned by store/policy.py
ARGV[3]  JSON history entry (without the effects, which are known only here)
ARGV[4]  dedup window in seconds
ARGV[5]  history length kept
ARGV[6]  now, epoch seconds

Returns 0 for a duplicate, otherwise a JSON list of effects ("+code" added, "-code"
lifted). Suppressions are keyed by code (or code:subscription); the record also keeps
recent event times per counter, for the "n events within a window" rules.
--]]
if not redis.call('SET', KEYS[2], '1', 'NX', 'EX', tonumber(ARGV[4])) then
  return 0
end

local ops = cjson.decode(ARGV[2])
local now = tonumber(ARGV[6])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
local rec = raw and cjson.decode(raw) or {}
local s = rec.s or {}
local c = rec.c or {}
local fx = {}

-- expired suppressions go first: they would otherwise block re-suppression's "since"
for key, sup in pairs(s) do
  if sup.u and sup.u <= now then s[key] = nil end
end

local function suppress(x)
  if x.u and x.u <= now then return end     -- reported after it would have ended
  local cur = s[x.key]
  if cur then
    if cur.u and (not x.u or x.u > cur.u) then cur.u = x.u end
    cur.e = x.e
    cur.n = (cur.n or 1) + 1
  else
    s[x.key] = {c = x.code, t = x.t, u = x.u, e = x.e, sub = x.sub}
    fx[#fx + 1] = '+' .. x.key
  end
end

for _, op in ipairs(ops) do
  if op.op == 'count' then
    local kept = {}
    local cutoff = op.t - op.win
    for _, ts in ipairs(c[op.k] or {}) do
      if op.win == 0 or ts > cutoff then kept[#kept + 1] = ts end
    end
    kept[#kept + 1] = op.t
    while #kept > 32 do table.remove(kept, 1) end
    c[op.k] = kept
    if #kept >= op.n then suppress(op.sup) end
  elseif op.op == 'suppress' then
    suppress(op.sup)
  elseif op.op == 'lift' then
    for _, key in ipairs(op.keys) do
      -- a lift only undoes what started before it: a late "delivered" must not lift a
      -- suppression caused by a bounce that happened after the delivery
      for k, sup in pairs(s) do
        if (k == key or sup.c == key) and sup.t <= op.t then
          s[k] = nil
          fx[#fx + 1] = '-' .. k
        end
      end
    end
  elseif op.op == 'reset' then
    for _, k in ipairs(op.ks) do
      local kept = {}
      for _, ts in ipairs(c[k] or {}) do
        if ts > op.t then kept[#kept + 1] = ts end
      end
      c[k] = (#kept > 0) and kept or nil
    end
  end
end

rec.s = next(s) and s or nil
rec.c = next(c) and c or nil
if next(rec) then
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
elseif raw then
  redis.call('HDEL', KEYS[1], ARGV[1])
end

local effects = (#fx > 0) and cjson.encode(fx) or '[]'
if ARGV[3] ~= '' then
  redis.call('LPUSH', KEYS[3], '{"fx":' .. effects .. ',' .. string.sub(ARGV[3], 2))
  redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
end
return effects
