-- partner-access at the edge (issue #14, GATEWAY_MODE=edge): nginx decides on cached verdicts
-- instead of asking the API on every request.
--
-- * A verdict per key id lives in lua_shared_dict partner_verdicts with the SHA-256 of the whole
--   key it was given for: a key with a cached id and any other secret never matches, goes to the
--   API and is refused there. Every use re-checks the key's own expiry.
-- * A miss asks the API once (GET /v1/gateway/verdict; concurrent misses for one key in a worker
--   wait for that one answer).
-- * Worker 0 follows the change feed (GET /v1/gateway/changes, a long poll on the database's
--   gateway_changes) and records, per key and per partner, the seq of the last change in
--   partner_marks. A cached verdict remembers the feed cursor read before it was asked for, and is
--   used only while no change newer than that names its key or partner: a change is applied before
--   the next request for that key, and an answer racing a change is never believed over it. The
--   cursor, the feed's last confirmation and a generation live in partner_feed; a feed that cannot
--   account for the changes since our cursor (reset) bumps the generation, which retires every
--   verdict at once.
-- * Cut off from the feed, cached verdicts are honoured while what the gateway knows is at most
--   stale_ttl old (the later of the verdict's fetch and the feed's last confirmation); keys it has
--   never seen are refused (503) as long as the API cannot be asked.
-- * The path is normalised once (partner_request_path, the port of domain/request-path.ts); the
--   scope is decided on it and exactly it is forwarded. Tiers and failed-key budgets are
--   sliding windows (api/rate-limit.ts's rule) in partner_counters, shared by the workers.
local cjson = require('cjson.safe')
local ffi = require('ffi')
local request_path = require('partner_request_path')

local ngx = ngx
local shared = ngx.shared
local verdicts = shared.partner_verdicts
local marks = shared.partner_marks
-- the feed's cursor, the time it last confirmed it was current, and the generation (bumped when
-- every cached verdict has to go): a dict of their own, so writing them never evicts a mark
local feed = shared.partner_feed
local counters = shared.partner_counters
local usage = shared.partner_usage
local now = ngx.now
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
local byte, sub, find, match = string.byte, string.sub, string.find, string.match

local M = {}
local settings

-- A cached verdict lives at most this long even with a healthy feed (and marks outlive it), so a
-- mark evicted from memory can never be needed by a verdict still cached.
local VERDICT_MAX_AGE = 3600
local MARK_TTL = VERDICT_MAX_AGE + 60
-- The API's long poll answers within 25 s: silence much longer than that is a lost connection.
local FEED_READ_TIMEOUT_MS = 40000

-------------------------------------------------------------------------------- SHA-256
ffi.cdef [[ unsigned char *SHA256(const unsigned char *d, size_t n, unsigned char *md); ]]
local libcrypto
do
  -- nginx links libcrypto itself: its symbols are usually already in the process
  local ok = pcall(function() return ffi.C.SHA256 end)
  if ok then
    libcrypto = ffi.C
  else
    for _, name in ipairs({ 'crypto', 'libcrypto.so.3', 'libcrypto.so.1.1' }) do
      local loaded, lib = pcall(ffi.load, name)
      if loaded then libcrypto = lib break end
    end
  end
end
local digest_buffer = ffi.new('unsigned char[32]')
local function sha256_base64(text)
  libcrypto.SHA256(text, #text, digest_buffer)
  return ngx.encode_base64(ffi.string(digest_buffer, 32))
end

-------------------------------------------------------------------------------- keys
local BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'
local function base62(n, width)
  local out = ''
  repeat
    local d = n % 62
    out = sub(BASE62, d + 1, d + 1) .. out
    n = floor(n / 62)
  until n == 0
  while #out < width do out = '0' .. out end
  return out
end

--- domain/api-key.ts parseApiKey: shape and checksum, no I/O. Returns the key id, or nil and why.
local function parse_key(key)
  if #key > 100 then return nil, 'malformed' end
  local env, key_id, secret, checksum = match(key, '^pak_(%a+)_(%w+)_(%w+)_(%w+)$')
  if not env or (env ~= 'test' and env ~= 'live') or #key_id ~= 16 or #secret ~= 32 or #checksum ~= 6 then return nil, 'malformed' end
  if base62(ngx.crc32_long(sub(key, 1, #key - 7)), 6) ~= checksum then return nil, 'bad_checksum' end
  return key_id
end

local function is_space(b) return b == 32 or (b >= 9 and b <= 13) end
local function presented_key()
  local direct = ngx.var.http_x_api_key
  if direct and direct ~= '' then
    -- trimmed as the API trims it; the pattern only when there is something to trim
    if is_space(byte(direct, 1)) or is_space(byte(direct, -1)) then return (match(direct, '^%s*(.-)%s*$')) end
    return direct
  end
  local authorization = ngx.var.http_authorization
  if authorization then
    local scheme, token = match(authorization, '^%s*(%a+)%s+(%S+)%s*$')
    if scheme and scheme:lower() == 'bearer' then return token end
  end
  return nil
end

-- Per worker: key string → { key id, digest }. A pure function of the string (shape, checksum,
-- SHA-256), so it is never stale; it saves the hashing on every request of a busy key.
local presented = require('resty.lrucache').new(10000)
-- Per worker: "METHOD raw-target" → the normalised target and the scope it needs (or the refusal).
local routing = require('resty.lrucache').new(10000)

-------------------------------------------------------------------------------- answers
local function answer(status, reason, body, headers)
  ngx.var.auth_reason = reason
  ngx.status = status
  ngx.header['Content-Type'] = 'application/json'
  if headers then for name, value in pairs(headers) do ngx.header[name] = value end end
  ngx.print(body)
  return ngx.exit(status)
end
local function unauthorized(reason)
  return answer(401, reason, '{"error":"unauthorized"}\n', { ['WWW-Authenticate'] = 'Bearer realm="partner-api"' })
end
local function forbidden(reason) return answer(403, reason, '{"error":"forbidden"}\n') end
local function too_many(reason, retry_after, extra)
  local headers = extra or {}
  headers['Retry-After'] = tostring(retry_after)
  return answer(429, reason, '{"error":"rate limited"}\n', headers)
end
local function unavailable(reason)
  return answer(503, reason, '{"error":"gateway cannot verify the key now"}\n', { ['Retry-After'] = '1' })
end

-------------------------------------------------------------------------------- sliding windows
-- api/rate-limit.ts's rule: the previous window's count weighted by its overlap, plus the current
-- window's. `take` counts one event if it fits; `peek` counts nothing.
-- Windows are numbered (index = floor(t / window)); the names of the current and the previous
-- window, formatted once per window length and index rather than on every request.
local window_names = {}
local function window_suffixes(window, index)
  local memo = window_names[window]
  if not memo or memo.index ~= index then
    memo = { index = index, current = ':' .. string.format('%d', index), previous = ':' .. string.format('%d', index - 1) }
    window_names[window] = memo
  end
  return memo.current, memo.previous
end

local function window_estimate(name, limit, window, t)
  local index = floor(t / window)
  local start = index * window
  local current_suffix, previous_suffix = window_suffixes(window, index)
  local current_name = name .. current_suffix
  local current = counters:get(current_name) or 0
  local previous = counters:get(name .. previous_suffix) or 0
  local estimated = previous * (1 - (t - start) / window) + current
  return start, current, previous, estimated, current_name
end
local function retry_after(start, current, previous, estimated, limit, window, t)
  local wait = current + 1 > limit and (start + window - t) or ((estimated + 1 - limit) / max(previous, 1)) * window
  return max(1, ceil(wait))
end
--- Counts one event in `name`'s window if it fits. `memo` (a table the caller keeps per counter,
--- e.g. on a cached verdict) remembers the window's names and the previous window's count: that
--- window is closed, so its count is read again at most once a second (a straggler counted into
--- it as the window turned is seen within the second). One shared-dict operation per pass.
local function window_take(name, limit, window, memo)
  local t = now()
  local index = floor(t / window)
  local start = index * window
  if memo.index ~= index then
    local current_suffix, previous_suffix = window_suffixes(window, index)
    memo.index, memo.current, memo.previous, memo.previous_read_at = index, name .. current_suffix, name .. previous_suffix, nil
  end
  if not memo.previous_read_at or t - memo.previous_read_at >= 1 then
    memo.previous_count, memo.previous_read_at = counters:get(memo.previous) or 0, t
  end
  local previous = memo.previous_count
  -- counted first: another worker may count meanwhile, and the count after our increment decides
  local current_name = memo.current
  local counted = counters:incr(current_name, 1, 0, 2 * window + 1)
  if not counted then counted = (counters:get(current_name) or 0) + 1 end
  local after = previous * (1 - (t - start) / window) + counted
  if after > limit then
    counters:incr(current_name, -1)
    return false, retry_after(start, counted - 1, previous, after - 1, limit, window, t), 0
  end
  return true, 0, max(0, floor(limit - after)), start + window - t
end
local function window_peek(name, limit, window)
  local t = now()
  local start, current, previous, estimated = window_estimate(name, limit, window, t)
  if estimated + 1 > limit then return retry_after(start, current, previous, estimated, limit, window, t) end
  return nil
end
local function window_spend(name, limit, window)
  counters:incr(name .. (window_suffixes(window, floor(now() / window))), 1, 0, 2 * window + 1)
end

-- The failed-key budget of a client (api/rate-limit.ts failureBudget): closed before any key is
-- looked at, spent on each failure. A spend that fills the window writes when it reopens, so the
-- check on every request is one lookup (nothing, for a client that has not failed).
local function budget_closed(client)
  local reopens = counters:get('closed:' .. client)
  if not reopens then return nil end
  local wait = window_peek('failed:' .. client, settings.failedKeysPerMinute, 60)
  if not wait then counters:delete('closed:' .. client) end
  return wait
end
local function spend_failure(client)
  local limit = settings.failedKeysPerMinute
  window_spend('failed:' .. client, limit, 60)
  local wait = window_peek('failed:' .. client, limit, 60)
  if wait then counters:set('closed:' .. client, now() + wait, 120) end
end
local function failed(client, reason)
  spend_failure(client)
  return unauthorized(reason)
end

-------------------------------------------------------------------------------- time
-- ISO-8601 UTC ("2026-12-05T07:00:00.000Z") → seconds since the epoch (days from civil).
local function epoch_of(iso)
  local y, mo, d, h, mi, s = match(iso or '', '^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d%.?%d*)Z$')
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = floor(y / 400)
  local yoe = y - era * 400
  local mp = (mo + 9) % 12
  local doy = floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(s)
end

-- this worker's usage counts since it last moved them to shared memory (key id .. ' ' .. scope → count)
local local_usage = {}

-------------------------------------------------------------------------------- the cache
-- Per worker: verdicts already decoded. Safe to use without asking the shared dict again because
-- everything that retires a verdict is checked by usable() on every request (its expiry, the
-- feed's marks for its key and partner, a feed reset, staleness); the shared dict is how workers
-- share what one of them fetched.
local decoded = require('resty.lrucache').new(20000)

local function from_shared(key_id)
  local raw = verdicts:get(key_id)
  if not raw then return nil end
  local entry = cjson.decode(raw)
  if not entry then verdicts:delete(key_id) return nil end
  decoded:set(key_id, entry, max(0.001, entry.expires - now()))
  return entry
end

--- The verdict cached for a key id: this worker's copy, else the one another worker fetched.
local function cached(key_id)
  return decoded:get(key_id) or from_shared(key_id)
end

--- Whether the feed has caught up since this nginx (re)loaded its configuration: a poll sent
--- after the load has been answered. Until then a cached verdict may predate a change made while
--- nginx was reloading (the cache survives a reload, the follower starts over), so it is not
--- trusted while the API can answer (see M.access). Once true it stays true for the worker.
local caught_up_since_load = false
local function caught_up()
  if not caught_up_since_load then
    caught_up_since_load = (feed:get('confirmed_at') or 0) >= (feed:get('loaded_at') or math.huge)
  end
  return caught_up_since_load
end

--- When the feed last confirmed it was current, read from shared memory at most once a second per
--- worker: staleness is a matter of tens of seconds (GATEWAY_STALE_TTL is at least 30), and the
--- hit path saves a lookup. Whether the follower applied anything (`applied`) is read on every request.
local confirmed_seen, confirmed_read_at = 0, -1
local function feed_confirmed_at(t)
  if t - confirmed_read_at >= 1 then
    confirmed_seen, confirmed_read_at = feed:get('confirmed_at') or 0, t
  end
  return confirmed_seen
end

--- Whether a cached verdict may still be used now (digest aside). Every condition, every time.
--- The feed's marks and generation are looked at again only when the follower has applied
--- something since this worker last looked (partner_feed's `applied`, counted after the marks
--- are written): one lookup instead of three on the hit path, and the same answer.
local function usable(entry, t)
  if t >= entry.expires then return false, 'expired' end
  local applied = feed:get('applied') or 0
  if entry.checked ~= applied then
    local seq = entry.seq
    if (feed:get('generation') or 0) ~= entry.generation then return false, 'feed reset' end
    if (marks:get(entry.keyMark) or 0) > seq then return false, 'key changed' end
    if (marks:get(entry.partnerMark) or 0) > seq then return false, 'partner changed' end
    -- read before the marks: a change written after that read moves `applied` past it
    entry.checked = applied
  end
  if t - max(entry.fetched, feed_confirmed_at(t)) > settings.staleTtl then return false, 'stale' end
  return true
end

--- The entry for a verdict the API gave; cached when `seq` (the feed cursor read before asking) is
--- known and no change since names the key or its partner.
local function store(key_id, digest, verdict, generation, seq, fetched)
  local expires = epoch_of(verdict.expiresAt)
  if not expires then return end
  local scopes = {}
  for _, scope in ipairs(verdict.scopes or {}) do scopes[scope] = true end
  local entry = {
    keyId = key_id,
    digest = digest,
    partnerId = verdict.partnerId,
    environment = verdict.environment,
    scopes = scopes,
    scopeList = table.concat(verdict.scopes or {}, ' '),
    tier = verdict.rateLimit.tier,
    requests = verdict.rateLimit.requests,
    window = verdict.rateLimit.windowSeconds,
    -- worked out once: the RateLimit-Policy value and the tier's counter (per partner, as the API counts)
    policy = '"' .. verdict.rateLimit.tier .. '";q=' .. verdict.rateLimit.requests .. ';w=' .. verdict.rateLimit.windowSeconds,
    tierCounter = 'tier:' .. verdict.partnerId,
    -- the names of the feed's marks for this key and its partner
    keyMark = 'k:' .. key_id,
    partnerMark = 'p:' .. verdict.partnerId,
    expires = expires,
    fetched = fetched,
    generation = generation,
    seq = seq,
  }
  local ttl = min(VERDICT_MAX_AGE, expires - fetched)
  -- Before the feed has a cursor nothing is cached: a change could not be told apart.
  if ttl <= 0 or not seq then return entry end
  -- An answer that raced a change of this key or partner is used for this request only.
  if (marks:get('k:' .. key_id) or 0) > seq or (marks:get('p:' .. entry.partnerId) or 0) > seq or (feed:get('generation') or 0) ~= generation then
    return entry
  end
  verdicts:set(key_id, cjson.encode(entry), ttl)
  decoded:set(key_id, entry, ttl)
  return entry
end

-------------------------------------------------------------------------------- asking the API
-- One question per key in flight per worker: the others wait for its answer.
local in_flight = {}

local function ask_api()
  local response = ngx.location.capture('/_partner_access_verdict')
  return { status = response.status, body = response.body, reason = response.header['X-Auth-Reason'], retryAfter = response.header['Retry-After'], cursor = response.header['X-Gateway-Cursor'] }
end

local semaphore = require('ngx.semaphore')
local function ask_once(flight_key)
  local flight = in_flight[flight_key]
  if flight then
    flight.waiters = flight.waiters + 1
    local ok = flight.sema:wait(10)
    if ok and flight.result then return flight.result end
    return { status = 503 }
  end
  flight = { sema = semaphore.new(), waiters = 0 }
  in_flight[flight_key] = flight
  -- the generation, then the cursor, before the question: a change after the cursor (or a reset)
  -- makes the answer unusable for the cache. In this order: a reset moves the cursor first. The
  -- waiters get these with the answer: what they read later would postdate the API's reading.
  local generation = feed:get('generation') or 0
  local seq = feed:get('cursor')
  local ok, result = pcall(ask_api)
  flight.result = ok and result or { status = 503 }
  flight.result.generation, flight.result.seq = generation, seq
  -- one worker runs one Lua thread at a time: every waiter joined before this line is counted
  in_flight[flight_key] = nil
  if flight.waiters > 0 then flight.sema:post(flight.waiters) end
  return flight.result
end

-------------------------------------------------------------------------------- probes
-- A revocation probe (pap_<keyId>_…, signed by the worker) is never a pass. The API checks its
-- signature and the key in the database; then the cache is asked the same question once the feed
-- has applied every change up to the API's answer: a cached "active" that survived the change
-- is reported (403) and so fails the workflow's verification.
local function probe(key, client)
  local closed = budget_closed(client)
  if closed then return too_many('too many failed keys', closed) end
  local result = ask_api()
  if result.status == 429 then return too_many('too many failed keys', result.retryAfter or 60) end
  if result.status == 403 then return forbidden(result.reason or 'probe: key active') end
  if result.status ~= 401 then return unavailable('api unavailable') end
  if result.reason == 'malformed' then return failed(client, 'probe: malformed') end
  local key_id = match(key, '^pap_(%w+)_')
  local cursor = tonumber(result.cursor or '')
  if cursor then
    local deadline = now() + settings.probeWaitSeconds
    while (feed:get('cursor') or -1) < cursor and now() < deadline do ngx.sleep(0.01) end
  end
  local entry = key_id and cached(key_id)
  if entry and usable(entry, now()) then return forbidden('probe: cached verdict active') end
  return unauthorized(result.reason or 'revoked')
end

-------------------------------------------------------------------------------- the request
function M.access()
  local client = ngx.var.remote_addr
  local key = presented_key()
  if not key or key == '' then return unauthorized('missing') end
  if sub(key, 1, 4) == 'pap_' then return probe(key, client) end
  -- Over the budget, no key is looked at: otherwise guessing would go on, a right guess passing.
  local closed = budget_closed(client)
  if closed then return too_many('too many failed keys', closed) end
  -- the key's id and digest, worked out once per worker for each key string seen
  local known = presented:get(key)
  local key_id, digest
  if known then
    key_id, digest = known[1], known[2]
  else
    local why
    key_id, why = parse_key(key)
    if not key_id then return failed(client, why) end
    digest = sha256_base64(key)
    presented:set(key, { key_id, digest })
  end
  local t = now()
  local entry = cached(key_id)
  local state = 'hit'
  if entry and not (entry.digest == digest and usable(entry, t)) then
    -- this worker's copy is spent: another worker may have fetched a fresh one
    entry = from_shared(key_id)
  end
  local fresh = entry and entry.digest == digest and usable(entry, t)
  if not (fresh and caught_up()) then
    state = 'miss'
    local result = ask_once(key_id .. digest)
    if result.status == 200 then
      local verdict = cjson.decode(result.body or '')
      if not verdict or verdict.active ~= true or verdict.keyId ~= key_id or type(verdict.rateLimit) ~= 'table' then
        return unavailable('bad verdict')
      end
      entry = store(key_id, digest, verdict, result.generation, result.seq, t)
      if not entry then return unavailable('bad verdict') end
      -- a verdict the API gave already past its expiry (clock skew) is not served either
      if t >= entry.expires then return unauthorized('expired') end
    elseif result.status == 401 then
      spend_failure(client)
      return unauthorized(result.reason or 'unknown')
    elseif result.status == 429 then
      return too_many('too many failed keys', result.retryAfter or 60)
    elseif fresh then
      -- just (re)loaded and the API cannot answer: the cached verdict, as when cut off (stale TTL)
      state = 'hit-api-unavailable'
    else
      return unavailable('api unavailable (' .. tostring(result.status) .. ')')
    end
  end
  if settings.environment and entry.environment ~= settings.environment then return failed(client, 'wrong_environment') end

  -- the normalised target and the scope it needs: pure functions of the method and the raw
  -- target, so each worker works them out once per distinct request line
  local method, uri = ngx.req.get_method(), ngx.var.request_uri
  local line = method .. ' ' .. uri
  local decided = routing:get(line)
  if not decided then
    local target, refusal = request_path.normalize(uri)
    decided = target and { target = target.target, scope = request_path.required_scope(settings.routes, method, target.path) } or { refusal = refusal }
    routing:set(line, decided)
  end
  if decided.refusal then
    return answer(400, decided.refusal, '{"error":"bad request","reason":"' .. decided.refusal .. '"}\n')
  end
  local target, scope = decided, decided.scope
  if not scope then return forbidden('no such route') end
  if not entry.scopes[scope] then return forbidden('missing scope ' .. scope) end

  -- draft-ietf-httpapi-ratelimit-headers: the policy and what is left of it
  local policy = entry.policy
  local tier_window = entry.tierWindow
  if not tier_window then tier_window = {} entry.tierWindow = tier_window end
  local ok, wait, remaining, reset = window_take(entry.tierCounter, entry.requests, entry.window, tier_window)
  if not ok then
    return too_many('rate limited', wait, {
      ['RateLimit-Policy'] = policy,
      ['RateLimit'] = '"' .. entry.tier .. '";r=0;t=' .. wait,
    })
  end
  ngx.var.rate_limit_policy = policy
  ngx.var.rate_limit = '"' .. entry.tier .. '";r=' .. remaining .. ';t=' .. max(1, ceil(reset))
  -- usage evidence for recertification: counted in this worker, moved to shared memory every
  -- second, reported to the API by worker 0 (report_usage below)
  local uses = entry.uses
  if not uses then uses = {} entry.uses = uses end
  local use = uses[scope]
  if not use then use = key_id .. ' ' .. scope uses[scope] = use end
  local_usage[use] = (local_usage[use] or 0) + 1
  ngx.var.partner_id = entry.partnerId
  ngx.var.partner_scopes = entry.scopeList
  ngx.var.upstream_target = target.target
  ngx.var.auth_reason = state
end

-------------------------------------------------------------------------------- the feed
-- A small HTTP/1.1 client on a cosocket (timers cannot use subrequests).
local function read_response(sock)
  local status_line, err = sock:receive('*l')
  if not status_line then return nil, err end
  local status = tonumber(match(status_line, '^HTTP/1%.%d (%d%d%d)'))
  if not status then return nil, 'bad status line' end
  local length, chunked, close
  while true do
    local line, e = sock:receive('*l')
    if not line then return nil, e end
    if line == '' then break end
    local name, value = match(line, '^([^:]+):%s*(.-)%s*$')
    if name then
      name = name:lower()
      if name == 'content-length' then length = tonumber(value)
      elseif name == 'transfer-encoding' and value:lower():find('chunked', 1, true) then chunked = true
      elseif name == 'connection' and value:lower() == 'close' then close = true end
    end
  end
  local body
  if chunked then
    local parts = {}
    while true do
      local size_line, e = sock:receive('*l')
      if not size_line then return nil, e end
      local size = tonumber(match(size_line, '^(%x+)'), 16)
      if not size then return nil, 'bad chunk' end
      if size == 0 then sock:receive('*l') break end
      local part, e2 = sock:receive(size)
      if not part then return nil, e2 end
      parts[#parts + 1] = part
      sock:receive('*l')
    end
    body = table.concat(parts)
  elseif length then
    body = length > 0 and sock:receive(length) or ''
    if not body then return nil, 'short body' end
  else
    body = sock:receive('*a')
    close = true
  end
  return { status = status, body = body, close = close }
end

local function poll_changes(sock)
  local cursor = feed:get('cursor')
  -- with a cursor, the API's longest wait (it answers at once when there are changes)
  local query = cursor and ('?after=' .. string.format('%d', cursor)) or ''
  -- after a (re)load the first answer comes at once: until then the cache is not trusted (caught_up)
  if cursor and (feed:get('confirmed_at') or 0) < (feed:get('loaded_at') or 0) then query = query .. '&wait=0' end
  local sent_at = now()
  local ok, err = sock:send('GET /v1/gateway/changes' .. query .. ' HTTP/1.1\r\nHost: partner-access\r\nAuthorization: Bearer ' ..
    settings.gatewayToken .. '\r\nAccept: application/json\r\n\r\n')
  if not ok then return nil, err end
  local response, rerr = read_response(sock)
  if not response then return nil, rerr end
  if response.status ~= 200 then return nil, 'status ' .. response.status, response.close end
  local page = cjson.decode(response.body)
  if type(page) ~= 'table' or type(page.cursor) ~= 'number' or type(page.changes) ~= 'table' then return nil, 'bad page', true end
  -- marks first, then the cursor: a verdict asked for after the new cursor is read postdates them
  for _, change in ipairs(page.changes) do
    local name = change.keyId ~= cjson.null and change.keyId and ('k:' .. change.keyId) or ('p:' .. tostring(change.partnerId))
    local stored = marks:safe_set(name, change.seq, MARK_TTL)
    if not stored then
      -- no room to remember the change: forget every verdict instead (never serve a changed one),
      -- and the marks with them (a new generation's verdicts are asked for after these changes)
      feed:incr('generation', 1, 0)
      verdicts:flush_all()
      marks:flush_all()
    end
    if change.keyId ~= cjson.null and change.keyId then verdicts:delete(change.keyId) end
  end
  -- the hit path looks at the marks again when this moves (usable); before the cursor, which a
  -- probe waits for
  if #page.changes > 0 then feed:incr('applied', 1, 0) end
  -- the feed knew everything committed before the question was sent
  feed:set('cursor', page.cursor)
  if page.reset then
    -- the changes since our cursor are unknown (pruned, or another database): every verdict goes.
    -- After the cursor moved, so a verdict of the new generation was asked for after it.
    feed:incr('generation', 1, 0)
    verdicts:flush_all()
    -- marks numbered by the old cursor mean nothing now (and would hold new verdicts back)
    marks:flush_all()
    feed:incr('applied', 1, 0)
  end
  feed:set('confirmed_at', sent_at)
  if #page.changes > 0 then ngx.log(ngx.INFO, 'gateway feed: applied ', #page.changes, ' change(s) up to ', page.cursor) end
  return true, nil, response.close
end

local function follow(premature)
  if premature then return end
  local backoff = 0.05
  local host, port = match(settings.apiUpstream, '^(.+):(%d+)$')
  while not ngx.worker.exiting() do
    local sock = ngx.socket.tcp()
    sock:settimeouts(2000, 5000, FEED_READ_TIMEOUT_MS)
    local ok, err = sock:connect(host, tonumber(port))
    if ok then
      while not ngx.worker.exiting() do
        local polled, perr, close = poll_changes(sock)
        if not polled then err = perr break end
        backoff = 0.05
        if close then break end
      end
      sock:close()
    end
    if not ngx.worker.exiting() then
      if err then ngx.log(ngx.WARN, 'gateway feed: ', err, '; retrying in ', backoff, ' s') end
      ngx.sleep(backoff)
      backoff = min(backoff * 2, 2)
    end
  end
end

-------------------------------------------------------------------------------- usage
-- What passed on cached verdicts, per key and scope, as POST /v1/gateway/usage (the API records it
-- as /auth records what it lets through). Counted per minute bucket: a bucket older than the last
-- minute is no longer written, so it is read and deleted whole; the current ones are read and
-- decremented by what was read. A report the API did not take is added back.
local USAGE_EVERY = 2

local function move_usage()
  local counts = local_usage
  local_usage = {}
  local suffix = ' ' .. string.format('%d', floor(now() / 60))
  for use, count in pairs(counts) do usage:incr(use .. suffix, count, 0, 600) end
end
local MAX_USAGE_REPORT, MAX_USAGE_COUNT = 500, 100000

local function post_json(path, body)
  local host, port = match(settings.apiUpstream, '^(.+):(%d+)$')
  local sock = ngx.socket.tcp()
  sock:settimeouts(2000, 5000, 10000)
  local ok, err = sock:connect(host, tonumber(port))
  if not ok then return nil, err end
  ok, err = sock:send('POST ' .. path .. ' HTTP/1.1\r\nHost: partner-access\r\nAuthorization: Bearer ' .. settings.gatewayToken ..
    '\r\nContent-Type: application/json\r\nContent-Length: ' .. #body .. '\r\nConnection: close\r\n\r\n' .. body)
  if not ok then sock:close() return nil, err end
  local response, rerr = read_response(sock)
  sock:close()
  if not response then return nil, rerr end
  return response.status
end

local function report_usage()
  local bucket_now = floor(now() / 60)
  local uses, taken, total = {}, {}, 0
  for _, name in ipairs(usage:get_keys(0)) do
    if #uses >= MAX_USAGE_REPORT or total >= MAX_USAGE_COUNT then break end
    local key_id, scope, bucket = match(name, '^(%S+) (%S+) (%d+)$')
    local count = usage:get(name) or 0
    local take = min(count, MAX_USAGE_COUNT - total)
    if key_id and take > 0 then
      usage:incr(name, -take)
      uses[#uses + 1] = { keyId = key_id, scope = scope, count = take }
      taken[#taken + 1] = { name, take }
      total = total + take
    end
    if key_id and tonumber(bucket) < bucket_now - 1 and take == count then usage:delete(name) end
  end
  if #uses == 0 then return end
  local status, err = post_json('/v1/gateway/usage', cjson.encode({ uses = uses }))
  if status ~= 204 then
    ngx.log(ngx.WARN, 'gateway usage: report not taken (', err or status, '); kept for the next one')
    for _, t in ipairs(taken) do usage:incr(t[1], t[2], 0, 600) end
  end
end

local function report_usage_forever()
  -- also when nginx stops (premature): what was counted is reported on the way out
  local ok, err = pcall(report_usage)
  if not ok then ngx.log(ngx.ERR, 'gateway usage: ', err) end
end

-------------------------------------------------------------------------------- start-up
function M.init(settings_file)
  local file = assert(io.open(settings_file, 'rb'))
  settings = assert(cjson.decode(file:read('*a')), 'unreadable edge settings')
  file:close()
  request_path.set_ambiguous(settings.ambiguousCodePoints)
  settings.ambiguousCodePoints = nil
  if not libcrypto then error('no libcrypto for SHA-256') end
  -- in the master, at every start and reload: what the feed confirms from now on is what caught_up() wants
  ngx.update_time()
  feed:set('loaded_at', now())
end

function M.init_worker()
  -- every worker moves its usage counts to shared memory (and once more when it stops)
  local moved, merr = ngx.timer.every(1, function() pcall(move_usage) end)
  if not moved then ngx.log(ngx.ERR, 'gateway usage: cannot start: ', merr) end
  -- one follower per nginx instance: the marks it writes are shared by every worker
  if ngx.worker.id() == 0 then
    local ok, err = ngx.timer.at(0, follow)
    if not ok then ngx.log(ngx.ERR, 'gateway feed: cannot start: ', err) end
    ok, err = ngx.timer.every(USAGE_EVERY, report_usage_forever)
    if not ok then ngx.log(ngx.ERR, 'gateway usage: cannot start: ', err) end
  end
end

-- for the test harness (test/integration/gateway-edge.test.ts runs the path vectors through nginx)
M.normalize = request_path.normalize
M.epoch_of = epoch_of

return M
