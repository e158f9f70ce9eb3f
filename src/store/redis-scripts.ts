/**
 * Lua scripts of the Redis store. Each runs atomically on the Redis server, which is what makes
 * limits exact across nodes. The limit script mirrors sliding-log.ts.
 */

/** The Redis clock in ms, read once per script call (a batch of messages shares it). */
const CLOCK_FN = `
local clock
local function redisNow()
  if clock == nil then
    local t = redis.call('TIME')
    clock = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return clock
end
`;

/**
 * The limit logic as a Lua function of (keys, args), shared by the limit and message scripts.
 * KEYS: one hash per limit; ARGV: mode, now ('' = Redis clock), then limit, window, cost per limit.
 * A limit's hash maps entry times to costs (charges of one granule share an entry, see
 * chargeTime in sliding-log.ts), plus 's' (running sum), 'o' (oldest entry) and 'n' (newest).
 * A charge is two calls (HMGET of the sum and the entry, one HSET); the whole hash is read only
 * when an entry expires (once per granule) or to compute when room comes back (refusals, pacing).
 */
const LIMITS_FN = `
local function runLimits(LK, LA)
local mode = LA[1]
local now = tonumber(LA[2]) or redisNow()
local n = #LK
local lim, win, cost, used, newestAt, oldestAt, listed = {}, {}, {}, {}, {}, {}, {}
-- consume: the entry a charge goes to, read with the sum so the charge is one HSET.
local entryTs, entryCost = {}, {}

local function fmt(x) return string.format('%d', x) end
local function chargeTime(t, w)
  local g = math.max(1, math.floor(w / 1000))
  return math.floor(t / g) * g + g - 1
end
local function isEntry(f) return f ~= 's' and f ~= 'o' and f ~= 'n' end

local function trim(i, cutoff)
  local z = LK[i]
  local h
  if mode == 'consume' then
    entryTs[i] = chargeTime(now, win[i])
    h = redis.call('HMGET', z, 's', 'o', 'n', fmt(entryTs[i]))
    entryCost[i] = tonumber(h[4]) or 0
  else
    h = redis.call('HMGET', z, 's', 'o', 'n')
  end
  local sum, o = tonumber(h[1]) or 0, tonumber(h[2])
  newestAt[i] = tonumber(h[3])
  if o == nil then newestAt[i] = nil return 0 end
  oldestAt[i] = o
  -- Nothing expired (the common case): the running sum is current.
  if o > cutoff then return sum end
  local all = redis.call('HGETALL', z)
  local old, nextOldest = {}, nil
  for j = 1, #all, 2 do
    local f = all[j]
    if isEntry(f) then
      local ts = tonumber(f)
      if ts <= cutoff then
        old[#old + 1] = f
        sum = sum - tonumber(all[j + 1])
      elseif nextOldest == nil or ts < nextOldest then
        nextOldest = ts
      end
    end
  end
  if nextOldest == nil then
    redis.call('DEL', z)
    newestAt[i] = nil
    oldestAt[i] = nil
    return 0
  end
  for j = 1, #old, 500 do redis.call('HDEL', z, unpack(old, j, math.min(j + 499, #old))) end
  redis.call('HSET', z, 's', fmt(sum), 'o', fmt(nextOldest))
  oldestAt[i] = nextOldest
  return sum
end

-- Live entries oldest first, as {ts, cost} (read once per call, before any charge).
local function entries(i)
  if listed[i] == nil then
    local all = redis.call('HGETALL', LK[i])
    local es = {}
    for j = 1, #all, 2 do
      if isEntry(all[j]) then es[#es + 1] = { tonumber(all[j]), tonumber(all[j + 1]) } end
    end
    table.sort(es, function(a, b) return a[1] < b[1] end)
    listed[i] = es
  end
  return listed[i]
end

local function backToZero(i)
  local nw = newestAt[i]
  if nw == nil then return now end
  return math.max(now, nw + win[i])
end

local function freeAt(i, u, from)
  if u + cost[i] <= lim[i] then return from end
  local need = u + cost[i] - lim[i]
  local freed, last = 0, from - win[i]
  for _, e in ipairs(entries(i)) do
    if e[1] > from - win[i] then
      freed = freed + e[2]
      last = e[1]
      if freed >= need then return last + win[i] end
    end
  end
  return last + win[i]
end

local function charge(i, at)
  if cost[i] <= 0 then return end
  local z = LK[i]
  local ts = chargeTime(at, win[i])
  local f = fmt(ts)
  local fresh
  used[i] = used[i] + cost[i]
  if entryTs[i] == ts then
    -- The entry and the sum were read by trim: one write.
    local set = { f, fmt(entryCost[i] + cost[i]), 's', fmt(used[i]) }
    fresh = entryCost[i] == 0
    entryCost[i] = entryCost[i] + cost[i]
    if fresh and (newestAt[i] == nil or ts > newestAt[i]) then set[#set + 1] = 'n'; set[#set + 1] = f end
    if fresh and (oldestAt[i] == nil or ts < oldestAt[i]) then set[#set + 1] = 'o'; set[#set + 1] = f end
    redis.call('HSET', z, unpack(set))
  else
    fresh = redis.call('HINCRBY', z, f, cost[i]) == cost[i]
    redis.call('HINCRBY', z, 's', cost[i])
    if fresh and (newestAt[i] == nil or ts > newestAt[i]) then redis.call('HSET', z, 'n', f) end
    if fresh and (oldestAt[i] == nil or ts < oldestAt[i]) then redis.call('HSET', z, 'o', f) end
  end
  if not fresh then return end
  -- A new entry: newest, oldest and the hash's TTL move.
  if newestAt[i] == nil or ts > newestAt[i] then newestAt[i] = ts end
  if oldestAt[i] == nil or ts < oldestAt[i] then oldestAt[i] = ts end
  redis.call('PEXPIRE', z, math.max(newestAt[i] + win[i] - now, 0) + 1000)
end

for i = 1, n do
  local b = 2 + (i - 1) * 3
  lim[i] = tonumber(LA[b + 1]); win[i] = tonumber(LA[b + 2]); cost[i] = tonumber(LA[b + 3])
  used[i] = trim(i, now - win[i])
end

local out = {}
local function finish(allowed, refused, at, resets)
  -- Numbers become integer replies (exact up to 2^53): no formatting needed.
  out[1] = allowed; out[2] = refused; out[3] = at
  for i = 1, n do out[3 + 2 * i - 1] = used[i]; out[3 + 2 * i] = resets[i] end
  return out
end
local resets = {}

if mode == 'consume' then
  local refused = 0
  for i = 1, n do
    if used[i] + cost[i] > lim[i] and refused == 0 then refused = i end
  end
  if refused > 0 then
    for i = 1, n do
      if used[i] + cost[i] > lim[i] then resets[i] = freeAt(i, used[i], now) else resets[i] = backToZero(i) end
    end
    return finish(0, refused, now, resets)
  end
  for i = 1, n do charge(i, now) end
elseif mode == 'reserve' then
  local t0 = now
  for i = 1, n do
    local nw = newestAt[i]
    if nw ~= nil then
      local start = nw - math.max(1, math.floor(win[i] / 1000)) + 1
      if start > t0 then t0 = start end
    end
  end
  local at = t0
  for i = 1, n do
    local u = used[i]
    if t0 > now then
      for _, e in ipairs(entries(i)) do
        if e[1] > now - win[i] and e[1] <= t0 - win[i] then u = u - e[2] end
      end
    end
    at = math.max(at, freeAt(i, u, t0))
  end
  for i = 1, n do charge(i, at) end
  for i = 1, n do resets[i] = backToZero(i) end
  return finish(1, 0, at, resets)
end
for i = 1, n do resets[i] = backToZero(i) end
return finish(1, 0, now, resets)
end
`;

export const LIMITS_SCRIPT = `${CLOCK_FN}${LIMITS_FN}
return runLimits(KEYS, ARGV)
`;

/**
 * A window set as a Lua function: members scored by the time they were last added; those older
 * than the window are dropped first. now, cutoff (now − window) and ttl (window + 1 s) come as
 * strings from the node, so the common call formats and parses no number; cutoff = '' derives
 * them here (now = '' takes the Redis clock). Returns { size, fresh members... }.
 */
const WINDOW_SET_FN = `
local function windowSet(key, now, winArg, cutoff, ttl, members)
  if cutoff == '' then
    -- The standalone script, or the Redis clock: derive the times here.
    local t, win = tonumber(now) or redisNow(), tonumber(winArg)
    now, cutoff, ttl = string.format('%d', t), string.format('%d', t - win), string.format('%d', win + 1000)
  end
  redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff)
  local fresh = { 0 }
  for _, m in ipairs(members) do
    if redis.call('ZADD', key, now, m) == 1 then fresh[#fresh + 1] = m end
  end
  local size = redis.call('ZCARD', key)
  if size > 0 then redis.call('PEXPIRE', key, ttl) end
  fresh[1] = size
  return fresh
end
`;

/** KEYS: set; ARGV: now ('' = Redis clock), window, members... → { size, fresh members... } */
export const WINDOW_SET_SCRIPT = `${CLOCK_FN}${WINDOW_SET_FN}
local members = {}
for i = 3, #ARGV do members[#members + 1] = ARGV[i] end
return windowSet(KEYS[1], ARGV[1], ARGV[2], '', '', members)
`;

/** KEYS: key; ARGV: value, ttlMs → existing value or false. */
export const SET_IF_ABSENT_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/**
 * The common consume in few calls (one HMGET and two HINCRBY per limit): every limit has room and
 * its oldest entry is still inside the window. It may also charge credit (quota-credits.ts). It reads every limit before writing anything and
 * returns nil, having written nothing, when runLimits must decide instead: a refusal (with the
 * times room comes back), an entry to expire, or a limit without entries. Same result as runLimits.
 * KEYS[k0 + i] is limit i's hash; ARGV[a0] = 'consume', ARGV[a0 + 1] = now ('' = Redis clock),
 * then limit, window, cost per limit, then the credit asked for per limit. Returns runLimits's
 * result followed by (credit granted, entry charged) per limit.
 */
const FAST_CONSUME_FN = `
local function fastConsume(KEYS, k0, n, ARGV, a0)
  if ARGV[a0] ~= 'consume' then return nil end
  local now = tonumber(ARGV[a0 + 1]) or redisNow()
  local x0 = a0 + 1 + 3 * n
  local lim, win, cost, extra, sum, oldest, newest = {}, {}, {}, {}, {}, {}, {}
  for i = 1, n do
    local b = a0 + 2 + (i - 1) * 3
    lim[i], win[i], cost[i] = tonumber(ARGV[b]), tonumber(ARGV[b + 1]), tonumber(ARGV[b + 2])
    local h = redis.call('HMGET', KEYS[k0 + i], 's', 'o', 'n')
    local o = tonumber(h[2])
    if o == nil or o <= now - win[i] then return nil end
    local s = tonumber(h[1]) or 0
    if s + cost[i] > lim[i] then return nil end
    -- Credit asked for (quota-credits.ts): granted only when it fits as well.
    local x = tonumber(ARGV[x0 + i]) or 0
    if x > 0 and s + cost[i] + x > lim[i] then x = 0 end
    sum[i], oldest[i], newest[i], extra[i] = s, o, tonumber(h[3]), x
  end
  local out = { 1, 0, now }
  for i = 1, n do
    local z, w, used, nw = KEYS[k0 + i], win[i], sum[i], newest[i]
    local e = now
    local units = cost[i] + extra[i]
    if units > 0 then
      local g = math.max(1, math.floor(w / 1000))
      e = math.floor(now / g) * g + g - 1
      local f = string.format('%d', e)
      local c = extra[i] > 0 and units or ARGV[a0 + 4 + (i - 1) * 3]
      if redis.call('HINCRBY', z, f, c) == units then
        -- A new entry (once per granule): the newest mark, the oldest one when everything else
        -- is booked ahead (pacing), and the hash's TTL move.
        local set = {}
        if nw == nil or e > nw then set[#set + 1] = 'n'; set[#set + 1] = f; nw = e end
        if e < oldest[i] then set[#set + 1] = 'o'; set[#set + 1] = f end
        if #set > 0 then redis.call('HSET', z, unpack(set)) end
        redis.call('PEXPIRE', z, math.max(nw + w - now, 0) + 1000)
      end
      used = redis.call('HINCRBY', z, 's', c)
    end
    out[2 + 2 * i] = used
    out[3 + 2 * i] = (nw == nil) and now or math.max(now, nw + w)
    -- Credit granted, and the entry it was charged to.
    out[2 + 2 * n + 2 * i] = extra[i]
    out[3 + 2 * n + 2 * i] = e
  end
  return out
end
`;

/** KEYS: a limit's hash; ARGV: entry, units → units given back (credit left unspent). */
export const RETURN_CREDIT_SCRIPT = `
local v = tonumber(redis.call('HGET', KEYS[1], ARGV[1]))
if v == nil then return 0 end
local give = math.min(v, tonumber(ARGV[2]))
if give <= 0 then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[1], -give)
redis.call('HINCRBY', KEYS[1], 's', -give)
return give
`;

/**
 * One message's counters and its quota consume (see Store.countAndConsume), as a Lua function.
 * Its keys are KEYS[k0 + 1 .. k0 + nk]: the c counter keys, then the limit keys (one hash per
 * limit). Its arguments are ARGV[a0 .. last]: c, then per op: 'i' by ttl | 'w' now win cutoff ttl m
 * member1..m | 'h'; then the number of skip conditions and (op index, at least) pairs; then
 * 'consume' or 'none' followed by the limit script's arguments (mode first) and the credit asked
 * for per limit (quota-credits.ts).
 * Returns { counter results, limit result or 0 }.
 */
const MESSAGE_FN = `
local function runMessage(KEYS, k0, nk, ARGV, a0, last)
local c = tonumber(ARGV[a0])
local a = a0 + 1
local results, values = {}, {}
for k = 1, c do
  local key, kind = KEYS[k0 + k], ARGV[a]
  if kind == 'i' then
    -- A new counter (the usual case: one per Message-ID) is a single SET.
    local v = tonumber(ARGV[a + 1])
    if not redis.call('SET', key, ARGV[a + 1], 'PX', ARGV[a + 2], 'NX') then
      v = redis.call('INCRBY', key, ARGV[a + 1])
      redis.call('PEXPIRE', key, ARGV[a + 2])
    end
    results[k] = v; values[k] = v; a = a + 3
  elseif kind == 'e' then
    -- Only an existing sum is added to (CounterOp incr with ifExists).
    local v = tonumber(ARGV[a + 1])
    if redis.call('EXISTS', key) == 1 then
      v = redis.call('INCRBY', key, ARGV[a + 1])
      redis.call('PEXPIRE', key, ARGV[a + 2])
    end
    results[k] = v; values[k] = v; a = a + 3
  elseif kind == 'w' then
    local m = tonumber(ARGV[a + 5])
    local members = {}
    for x = 1, m do members[x] = ARGV[a + 5 + x] end
    local r = windowSet(key, ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], members)
    results[k] = r; values[k] = r[1]; a = a + 6 + m
  elseif kind == 'c' then
    -- A count (window-trims.ts). ARGV: now, cutoff, trim ('1' when due, else ''), ttl, members.
    local now, cutoff, trim, ttl, m = ARGV[a + 1], ARGV[a + 2], ARGV[a + 3], ARGV[a + 4], tonumber(ARGV[a + 5])
    if trim ~= '' then redis.call('ZREMRANGEBYSCORE', key, '-inf', cutoff) end
    local added = 0
    if m == 1 then added = redis.call('ZADD', key, now, ARGV[a + 6])
    elseif m > 1 then
      local za = {}
      for x = 1, m do za[2 * x - 1] = now; za[2 * x] = ARGV[a + 5 + x] end
      added = redis.call('ZADD', key, unpack(za))
    end
    local size = redis.call('ZCOUNT', key, '(' .. cutoff, '+inf')
    -- Renewed when due, and when every live member is new (a new key has no expiry yet).
    if size > 0 and (trim ~= '' or added == size) then redis.call('PEXPIRE', key, ttl) end
    results[k] = size; values[k] = size; a = a + 6 + m
  else
    results[k] = redis.call('HGETALL', key); values[k] = 0; a = a + 1
  end
end
local skips = tonumber(ARGV[a]); a = a + 1
local skip = false
for x = 1, skips do
  if values[tonumber(ARGV[a])] >= tonumber(ARGV[a + 1]) then skip = true end
  a = a + 2
end
if ARGV[a] ~= 'consume' or skip then return { results, 0 } end
local limited = fastConsume(KEYS, k0 + c, nk - c, ARGV, a)
if limited then return { results, limited } end
local LK, LA = {}, {}
for k = k0 + c + 1, k0 + nk do LK[#LK + 1] = KEYS[k] end
for k = a, last - (nk - c) do LA[#LA + 1] = ARGV[k] end
return { results, runLimits(LK, LA) }
end
`;

/**
 * Several messages in one call (the node batches the messages that wait while a call is in
 * flight), each run as if alone and in order, so limits stay exact. ARGV[1] = number of
 * messages; then per message: its key count, its argument count, its arguments (MESSAGE_FN).
 * KEYS: the messages' keys one after the other. Returns one result per message.
 */
export const MESSAGE_SCRIPT = `${CLOCK_FN}${LIMITS_FN}${WINDOW_SET_FN}${FAST_CONSUME_FN}${MESSAGE_FN}
local out, k0, a0 = {}, 0, 2
for i = 1, tonumber(ARGV[1]) do
  local nk, na = tonumber(ARGV[a0]), tonumber(ARGV[a0 + 1])
  out[i] = runMessage(KEYS, k0, nk, ARGV, a0 + 2, a0 + 1 + na)
  k0 = k0 + nk
  a0 = a0 + 2 + na
end
return out
`;
