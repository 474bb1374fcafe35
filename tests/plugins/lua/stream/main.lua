-- tests/plugins/lua/stream/main.lua — lua/stream: plugbay.emit and plugbay.receive misused, and what they raise.

-- Emitting while the entry file runs: no call is running.
local ok, outside = pcall(plugbay.emit, 1)
-- Receiving there too.
local rok, routside = pcall(plugbay.receive)

local M = {}

-- lstream.outside() returns what plugbay.emit raised in the entry file: {ok, code, message}.
function M.outside()
  return {ok = ok, code = outside.code, message = tostring(outside)}
end

-- lstream.receive_outside() returns what plugbay.receive raised in the entry file: {ok, code, message}.
function M.receive_outside()
  return {ok = rok, code = routside.code, message = tostring(routside)}
end

-- lstream.no_input() receives under pcall in a call without input and returns the error's code and message.
function M.no_input()
  local fine, err = pcall(plugbay.receive)
  return {ok = fine, code = err.code, message = tostring(err)}
end

-- lstream.bad() emits a function, which cannot cross a call.
function M.bad()
  plugbay.emit(1)
  plugbay.emit(print)
end

-- lstream.caught() emits a function under pcall and returns the error's code and message.
function M.caught()
  local fine, err = pcall(plugbay.emit, print)
  return {ok = fine, code = err.code, message = tostring(err)}
end

-- lstream.big(n) emits n chunks of 1 MiB each: past 16 MiB, a caller taking the answer whole cannot have them.
function M.big(n)
  local mib = string.rep("x", 1024 * 1024)
  for _ = 1, n do
    plugbay.emit(mib)
  end
  return "done"
end

function M.ping()
  return "pong"
end

return M
