/**
 * Lua scripts of the Redis store. Each runs atomically on the Redis server, which is what makes
 * limits exact across nodes. The limit script mirrors sliding-log.ts: per limit a sorted set of
 * charges (score = ts, member = "ts:cost:nonce:i") plus a running sum key.
 */

/** KEYS: z1, s1, z2, s2...; ARGV: mode, now ('' = Redis clock), nonce, then limit, window, cost per limit. */
/** The limit logic as a Lua function of (keys, args), shared by the limit and message scripts. */
const LIMITS_FN = `
local function runLimits(LK, LA)
local mode = LA[1]
local now = tonumber(LA[2])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local nonce = LA[3]
local n = #LK / 2
local lim, win, cost, used = {}, {}, {}, {}

local function costOf(m) return tonumber(string.match(m, '^[^:]*:([^:]*):')) end
local function fmt(x) return string.format('%d', x) end

local function trim(z, s, cutoff)
  local old = redis.call('ZRANGEBYSCORE', z, '-inf', fmt(cutoff))
  local sum = tonumber(redis.call('GET', s) or '0')
  -- Nothing expired (the common case): the running sum is current.
  if #old == 0 then return sum end
  for _, m in ipairs(old) do sum = sum - costOf(m) end
  redis.call('ZREMRANGEBYSCORE', z, '-inf', fmt(cutoff))
  if redis.call('ZCARD', z) == 0 then
    sum = 0
    redis.call('DEL', s)
  else
    redis.call('SET', s, fmt(sum), 'KEEPTTL')
  end
  return sum
end

-- Newest charge per limit, read once per call (after the trim) and kept up to date by charge().
local newestAt = {}
local function newest(i)
  if newestAt[i] == nil then
    local r = redis.call('ZRANGE', LK[2 * i - 1], -1, -1, 'WITHSCORES')
    if #r == 0 then newestAt[i] = false else newestAt[i] = tonumber(r[2]) end
  end
  return newestAt[i] or nil
end

local function backToZero(i)
  local nw = newest(i)
  if nw == nil then return now end
  return math.max(now, nw + win[i])
end

local function freeAt(i, u, from)
  if u + cost[i] <= lim[i] then return from end
  local need = u + cost[i] - lim[i]
  local es = redis.call('ZRANGEBYSCORE', LK[2 * i - 1], '(' .. fmt(from - win[i]), '+inf', 'WITHSCORES')
  local freed, last = 0, from - win[i]
  for j = 1, #es, 2 do
    freed = freed + costOf(es[j])
    last = tonumber(es[j + 1])
    if freed >= need then return last + win[i] end
  end
  return last + win[i]
end

local function charge(i, at)
  if cost[i] <= 0 then return end
  local z, s = LK[2 * i - 1], LK[2 * i]
  local nw = newest(i)
  redis.call('ZADD', z, fmt(at), fmt(at) .. ':' .. fmt(cost[i]) .. ':' .. nonce .. ':' .. i)
  newestAt[i] = (nw == nil or at > nw) and at or nw
  redis.call('INCRBY', s, cost[i])
  used[i] = used[i] + cost[i]
  local ttl = math.max(backToZero(i) - now, 0) + 1000
  redis.call('PEXPIRE', z, ttl)
  redis.call('PEXPIRE', s, ttl)
end

for i = 1, n do
  local b = 3 + (i - 1) * 3
  lim[i] = tonumber(LA[b + 1]); win[i] = tonumber(LA[b + 2]); cost[i] = tonumber(LA[b + 3])
  used[i] = trim(LK[2 * i - 1], LK[2 * i], now - win[i])
end

local out = {}
local function finish(allowed, refused, at, resets)
  out[1] = allowed; out[2] = refused; out[3] = fmt(at)
  for i = 1, n do out[3 + 2 * i - 1] = fmt(used[i]); out[3 + 2 * i] = fmt(resets[i]) end
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
    local nw = newest(i)
    if nw ~= nil and nw > t0 then t0 = nw end
  end
  local at = t0
  for i = 1, n do
    local u = used[i]
    if t0 > now then
      local es = redis.call('ZRANGEBYSCORE', LK[2 * i - 1], '(' .. fmt(now - win[i]), fmt(t0 - win[i]))
      for _, m in ipairs(es) do u = u - costOf(m) end
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

export const LIMITS_SCRIPT = `${LIMITS_FN}
return runLimits(KEYS, ARGV)
`;

/** KEYS: set; ARGV: now ('' = Redis clock), window, members... → { size, fresh members... } */
const WINDOW_SET_FN = `
local function windowSet(key, nowArg, winArg, members)
  local now = tonumber(nowArg)
  if now == nil then
    local t = redis.call('TIME')
    now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  local win = tonumber(winArg)
  redis.call('ZREMRANGEBYSCORE', key, '-inf', string.format('%d', now - win))
  local fresh = {}
  for _, m in ipairs(members) do
    if redis.call('ZADD', key, now, m) == 1 then fresh[#fresh + 1] = m end
  end
  local size = redis.call('ZCARD', key)
  if size > 0 then redis.call('PEXPIRE', key, win + 1000) end
  table.insert(fresh, 1, size)
  return fresh
end
`;

export const WINDOW_SET_SCRIPT = `${WINDOW_SET_FN}
local members = {}
for i = 3, #ARGV do members[#members + 1] = ARGV[i] end
return windowSet(KEYS[1], ARGV[1], ARGV[2], members)
`;

/** KEYS: key; ARGV: value, ttlMs → existing value or false. */
export const SET_IF_ABSENT_SCRIPT = `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`;

/**
 * One message's counters and its quota consume in one call (see Store.countAndConsume).
 * KEYS: the c counter keys, then the limit keys (z1, s1, ...).
 * ARGV: c, then per op: 'i' by ttl | 'w' now win m member1..m | 'h'; then the number of skip
 * conditions and (op index, at least) pairs; then 'consume' or 'none' followed by the limit
 * script's arguments (mode first).
 * Returns { counter results, limit result or 0 }.
 */
export const MESSAGE_SCRIPT = `${LIMITS_FN}${WINDOW_SET_FN}
local c = tonumber(ARGV[1])
local a = 2
local results, values = {}, {}
for k = 1, c do
  local kind = ARGV[a]
  if kind == 'i' then
    local v = redis.call('INCRBY', KEYS[k], ARGV[a + 1])
    redis.call('PEXPIRE', KEYS[k], ARGV[a + 2])
    results[k] = v; values[k] = v; a = a + 3
  elseif kind == 'w' then
    local m = tonumber(ARGV[a + 3])
    local members = {}
    for x = 1, m do members[x] = ARGV[a + 3 + x] end
    local r = windowSet(KEYS[k], ARGV[a + 1], ARGV[a + 2], members)
    results[k] = r; values[k] = r[1]; a = a + 4 + m
  else
    results[k] = redis.call('HGETALL', KEYS[k]); values[k] = 0; a = a + 1
  end
end
local skips = tonumber(ARGV[a]); a = a + 1
local skip = false
for x = 1, skips do
  if values[tonumber(ARGV[a])] >= tonumber(ARGV[a + 1]) then skip = true end
  a = a + 2
end
if ARGV[a] ~= 'consume' or skip then return { results, 0 } end
local LK, LA = {}, {}
for k = c + 1, #KEYS do LK[#LK + 1] = KEYS[k] end
for k = a, #ARGV do LA[#LA + 1] = ARGV[k] end
return { results, runLimits(LK, LA) }
`;
