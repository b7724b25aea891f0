--[[
Change one address's platform-wide record (shared by every tenant), atomically.

KEYS[1]  hash of platform records for the address's platform bucket
ARGV[1]  normalised address (field in KEYS[1])
ARGV[2]  JSON operation:
  {"op": "bounce", "tn": tenant, "t": time, "r": reason, "s": status, "keep": n}
      a hard bounce at a tenant that shares bounces; the latest per tenant, at most `keep`
      tenants (store/platform.py BOUNCES_KEPT)
  {"op": "delivered", "t": time}
      a delivery at a sharing tenant: forget shared bounces that happened before it
  {"op": "complaint", "tn": tenant, "t": time, "keep": n}
      a complaint at a tenant (for "complained at N tenants" -> platform_blocked); at most
      `keep` tenants (store/platform.py COMPLAINTS_KEPT, the bound of REBOUND_COMPLAINT_TENANTS)
  {"op": "block", "o": {...}} / {"op": "unblock"}
      the operator's list of people who want no mail from anyone, and known traps

Returns 1 if the record changed, else 0. The record: b tenant -> {time, reason, status};
k tenant -> complaint time; o the operator's entry.
--]]
local op = cjson.decode(ARGV[2])
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw and (op.op == 'delivered' or op.op == 'unblock') then return 0 end
local rec = raw and cjson.decode(raw) or {}
local changed = false

local function newest(map, limit)
  -- drop the oldest entries beyond `limit`
  local n = 0
  for _ in pairs(map) do n = n + 1 end
  while n > limit do
    local oldest, ot = nil, nil
    for k, v in pairs(map) do
      local t = type(v) == 'table' and v[1] or v
      if not ot or t < ot then oldest, ot = k, t end
    end
    map[oldest] = nil
    n = n - 1
  end
end

if op.op == 'bounce' then
  local b = rec.b or {}
  local cur = b[op.tn]
  if not cur or cur[1] < op.t then
    b[op.tn] = {op.t, op.r, op.s or ''}
    newest(b, op.keep or 4)
    rec.b = b
    changed = true
  end
elseif op.op == 'delivered' then
  if rec.b then
    for tn, v in pairs(rec.b) do
      if v[1] <= op.t then
        rec.b[tn] = nil
        changed = true
      end
    end
    if not next(rec.b) then rec.b = nil end
  end
elseif op.op == 'complaint' then
  local k = rec.k or {}
  if not k[op.tn] or k[op.tn] < op.t then
    k[op.tn] = op.t
    newest(k, op.keep or 16)
    rec.k = k
    changed = true
  end
elseif op.op == 'block' then
  rec.o = op.o
  changed = true
elseif op.op == 'unblock' then
  if rec.o then
    rec.o = nil
    changed = true
  end
end

if not changed then return 0 end
if next(rec) then
  redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
else
  redis.call('HDEL', KEYS[1], ARGV[1])
end
return 1
