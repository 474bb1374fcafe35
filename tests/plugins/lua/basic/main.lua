-- tests/plugins/lua/basic/main.lua — lua/basic: values, errors, the plugbay API, re-entrant calls and a timer.
local ticks = 0
local loaded = false

local M = {}

-- lua.echo(v) returns v unchanged.
function M.echo(v)
  return v
end

-- lua.types(...) returns, per argument, math.type for numbers and type otherwise.
function M.types(...)
  local out = plugbay.array()
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    out[i] = math.type(v) or type(v)
  end
  return out
end

-- lua.fail(what) raises an error (line 24).
function M.fail(what)
  error("boom: " .. tostring(what))
end

-- lua.bad_result returns a value that cannot cross a call.
function M.bad_result()
  return {ok = true, items = {1, {callback = print}}}
end

-- lua.via(name, ...) calls extension point name through the broker; a failure comes back as {error, code}.
function M.via(name, ...)
  local v, err, code = plugbay.call(name, ...)
  if err then
    return {error = err, code = code}
  end
  return v
end

-- lua.via_co(name, ...) is lua.via from inside a coroutine.
function M.via_co(name, ...)
  local co = coroutine.wrap(M.via)
  return co(name, ...)
end

function M.config(key)
  return plugbay.config(key)
end

function M.tick()
  ticks = ticks + 1
end

function M.ticks()
  return ticks
end

function M.ping()
  return "pong"
end

function M.data_dir()
  return plugbay.data_dir()
end

function M.print()
  print("printed by lua/basic", 42, nil, true)
  plugbay.log("warn", "logged by %s: %d", plugbay.id, 7)
end

function M.loaded()
  return loaded
end

function M.on_load()
  loaded = true
end

return M
