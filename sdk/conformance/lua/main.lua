-- sdk/conformance/lua/main.lua — conform/lua: the conformance plugin in Lua (echo, fail, type, filter, stream, upload), as sdk/conformance/cases.json calls it.
local M = {}

-- conform.echo(v) returns v as Lua got it.
function M.conform_echo(v)
  return v
end

-- conform.fail(code, message) ends the call with code (a name or a number) and message.
function M.conform_fail(code, message)
  plugbay.fail(code, message)
end

-- conform.bad_key() returns a table with a key that is neither 1..n nor a string, which no value can hold.
function M.conform_bad_key()
  return {[true] = 1}
end

-- conform.type(v) names v's type as Lua sees it: math.type for numbers, the mark of a table, plugbay.null.
function M.conform_type(v)
  if v == plugbay.null then
    return "plugbay.null"
  end
  if type(v) == "table" then
    return "table (" .. tostring(getmetatable(v)) .. ")"
  end
  return math.type(v) or type(v)
end

-- conform.filter(what, ...) provides the filter conform.filter: "refuse:lua" refuses with BAY_EPERM, "bad:lua"
-- answers a string (which is not the arguments), "keep:lua" passes the arguments on as they came (nil);
-- anything else passes them on with "lua" added at the end.
function M.conform_filter(...)
  local args = table.pack(...)
  local what = args[1]
  if what == "refuse:lua" then
    plugbay.fail("BAY_EPERM", "conform/lua refused " .. what)
  elseif what == "bad:lua" then
    return "not the arguments"
  elseif what == "keep:lua" then
    return nil
  end
  local out = {}
  for i = 1, args.n do
    out[i] = args[i]
  end
  out[args.n + 1] = "lua"
  return out
end

-- conform.stream(n, size, finish) streams n chunks (n < 0: until plugbay.emit stops the call): chunk i (from 0) is i
-- when size is 0, else a string of size bytes, each i % 256 (Lua has no binaries: a string crosses as a bin when it
-- is not UTF-8, as a str when it is). finish "error" then fails with BAY_EIO, "last" returns "last" (the last chunk);
-- anything else returns nil.
function M.conform_stream(n, size, finish)
  if math.type(n) ~= "integer" or math.type(size) ~= "integer" then
    plugbay.fail("BAY_ETYPE", "conform.stream: n and size must be integers")
  end
  if size < 0 or size > 8 * 1024 * 1024 then
    plugbay.fail("BAY_EINVAL", "conform.stream: size must be 0 to 8 MiB")
  end
  local i = 0
  while n < 0 or i < n do
    plugbay.emit(size == 0 and i or string.rep(string.char(i % 256), size))
    i = i + 1
  end
  if finish == "error" then
    plugbay.fail("BAY_EIO", "conform/lua failed after " .. n .. " chunks")
  elseif finish == "last" then
    return "last"
  end
end

-- conform.upload(what) takes the input its caller streams: "sum" returns {chunks = n, sum = the integers added up,
-- bytes = the strings' bytes (Lua's strings are str and bin)} once the input ended; "echo" streams each chunk back as
-- it comes; "early" returns "early" after the first chunk, leaving the rest. A stop ends the call in plugbay.receive.
function M.conform_upload(what)
  local n, sum, bytes = 0, 0, 0
  for chunk in plugbay.receive do
    n = n + 1
    if math.type(chunk) == "integer" then
      sum = sum + chunk
    elseif type(chunk) == "string" then
      bytes = bytes + #chunk
    end
    if what == "echo" then
      plugbay.emit(chunk)
    elseif what == "early" then
      return "early"
    end
  end
  if what ~= "echo" then
    return {chunks = n, sum = sum, bytes = bytes}
  end
end

return M
