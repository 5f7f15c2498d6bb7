-- The edge's port of domain/request-path.ts: the one normalisation of a request target, rule for
-- rule (read the rule there). Same input convention ($request_uri, byte for byte), same answers,
-- same refusal codes: test/fixtures/path-vectors.json holds both to it (test/integration/gateway-edge.test.ts
-- runs every vector through a real nginx with this file). The code points whose NFKC form is path
-- syntax come from the TypeScript side at start-up (runtime/gateway.ts computes them with
-- isAmbiguousCharacter), so the two never disagree on Unicode either.
local byte, char, sub, find, format, concat = string.byte, string.char, string.sub, string.find, string.format, table.concat

local M = {}

M.MAX_TARGET_LENGTH = 4096

local ambiguous = {}

--- code points (numbers) that are refused as ambiguous-character once decoded
function M.set_ambiguous(code_points)
  ambiguous = {}
  for _, cp in ipairs(code_points) do ambiguous[cp] = true end
end

-- Kept as they are in a canonical path: RFC 3986 unreserved, sub-delims without ";", ":" and "@".
local KEPT = {}
for c in ("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~!$&'()*+,=:@"):gmatch(".") do
  KEPT[byte(c)] = true
end

local function hex_value(b)
  if not b then return nil end
  if b >= 0x30 and b <= 0x39 then return b - 0x30 end
  if b >= 0x41 and b <= 0x46 then return b - 0x37 end
  if b >= 0x61 and b <= 0x66 then return b - 0x57 end
  return nil
end

-- Strict UTF-8 (as TextDecoder with fatal: true): no overlong forms, no surrogates, nothing above
-- U+10FFFF. Returns the code points, or nil.
local function utf8_code_points(bytes, n)
  local cps, count, i = {}, 0, 1
  while i <= n do
    local b = bytes[i]
    local cp, size, low, high
    if b < 0x80 then
      cp, size = b, 1
    elseif b >= 0xC2 and b <= 0xDF then
      cp, size = b - 0xC0, 2
    elseif b >= 0xE0 and b <= 0xEF then
      cp, size = b - 0xE0, 3
      if b == 0xE0 then low = 0xA0 elseif b == 0xED then high = 0x9F end
    elseif b >= 0xF0 and b <= 0xF4 then
      cp, size = b - 0xF0, 4
      if b == 0xF0 then low = 0x90 elseif b == 0xF4 then high = 0x8F end
    else
      return nil
    end
    for k = 1, size - 1 do
      local c = bytes[i + k]
      local min, max = 0x80, 0xBF
      if k == 1 then min, max = low or min, high or max end
      if not c or c < min or c > max then return nil end
      cp = cp * 64 + (c - 0x80)
    end
    count = count + 1
    cps[count] = cp
    i = i + size
  end
  return cps, count
end

local function is_control(cp)
  return cp < 0x20 or (cp >= 0x7F and cp <= 0x9F)
end

-- One raw segment (no "/"): percent-decoded once and checked; returns the decoded bytes as a
-- string, or nil and the refusal code. The order of the checks is the TypeScript side's: raw
-- characters first, then UTF-8 over the whole segment, then each decoded character.
local function decode_segment(raw)
  local bytes, n, i, len = {}, 0, 1, #raw
  while i <= len do
    local c = byte(raw, i)
    if c == 0x25 then
      local h1, h2 = hex_value(byte(raw, i + 1)), hex_value(byte(raw, i + 2))
      if not h1 or not h2 then return nil, 'malformed-escape' end
      n = n + 1
      bytes[n] = h1 * 16 + h2
      i = i + 3
    else
      if c < 0x20 or c == 0x7F then return nil, 'control-character' end
      if c == 0x20 or c == 0x23 or c > 0x7E then return nil, 'invalid-character' end
      n = n + 1
      bytes[n] = c
      i = i + 1
    end
  end
  local cps, count = utf8_code_points(bytes, n)
  if not cps then return nil, 'invalid-utf8' end
  for k = 1, count do
    local cp = cps[k]
    if cp == 0x2F then return nil, 'encoded-slash' end
    if cp == 0x5C then return nil, 'backslash' end
    if cp == 0x3B then return nil, 'path-parameter' end
    if cp == 0x25 then return nil, 'double-encoding' end
    if is_control(cp) then return nil, 'control-character' end
    if ambiguous[cp] then return nil, 'ambiguous-character' end
  end
  return char(unpack(bytes, 1, n)), nil, bytes, n
end

local function encode_segment(bytes, n)
  local out = {}
  for k = 1, n do
    local b = bytes[k]
    out[k] = KEPT[b] and char(b) or format('%%%02X', b)
  end
  return concat(out)
end

--- normalize(raw_target) → { path, query, target } or nil, reason
function M.normalize(raw)
  if byte(raw, 1) ~= 0x2F then return nil, 'not-origin-form' end
  if #raw > M.MAX_TARGET_LENGTH then return nil, 'too-long' end
  local mark = find(raw, '?', 1, true)
  local raw_path = mark and sub(raw, 1, mark - 1) or raw
  local query = mark and sub(raw, mark + 1) or ''
  -- Backslash and ";" are refused raw before decoding too: they delimit differently elsewhere.
  if find(raw_path, '\\', 1, true) then return nil, 'backslash' end
  if find(raw_path, ';', 1, true) then return nil, 'path-parameter' end

  local out, count, trailing_slash = {}, 0, false
  -- the segments after the leading "/", empty ones included
  local start, len = 2, #raw_path
  while true do
    local slash = find(raw_path, '/', start, true)
    local last = slash == nil
    local segment, reason, bytes, n = decode_segment(sub(raw_path, start, last and len or slash - 1))
    if not segment then return nil, reason end
    trailing_slash = last and (segment == '' or segment == '.' or segment == '..')
    if segment == '..' then
      if count == 0 then return nil, 'above-root' end
      out[count] = nil
      count = count - 1
    elseif segment ~= '' and segment ~= '.' then
      count = count + 1
      out[count] = encode_segment(bytes, n)
    end
    if last then break end
    start = slash + 1
  end
  for k = 1, #query do
    local c = byte(query, k)
    if c <= 0x20 or c >= 0x7F or c == 0x23 then return nil, 'invalid-query' end
  end
  local path = '/' .. concat(out, '/', 1, count) .. ((trailing_slash and count > 0) and '/' or '')
  local target = query ~= '' and (path .. '?' .. query) or path
  if #target > M.MAX_TARGET_LENGTH then return nil, 'too-long' end
  return { path = path, query = query, target = target }
end

--- The scope a request needs (config/gateway-routes.ts requiredScope): on the normalised path,
--- whole segments, the longest route wins; HEAD is GET.
function M.required_scope(routes, method, path)
  local effective = method == 'HEAD' and 'GET' or method
  local best, best_length
  for _, route in ipairs(routes) do
    if route.method == effective then
      local rp = route.path
      local matches
      if byte(rp, -1) == 0x2F then
        matches = sub(path, 1, #rp) == rp or path == sub(rp, 1, -2)
      else
        matches = path == rp
      end
      if matches and (not best or #rp > best_length) then best, best_length = route.scope, #rp end
    end
  end
  return best
end

return M
