-- tests/plugins/lua/manager/main.lua — lua/manager: plugbay.timer and plugbay.plugins from Lua.
local ticks = {beat = 0, a = 0, b = 0} -- ticks of tick_beat (the manifest's timer), tick_a and tick_b

local M = {}

function M.timer_set(name, interval_ms, function_name)
  plugbay.timer.set(name, interval_ms, function_name)
  return true
end

function M.timer_remove(name)
  plugbay.timer.remove(name)
  return true
end

function M.timers()
  return plugbay.timer.list()
end

function M.ticks()
  return ticks
end

function M.list()
  return plugbay.plugins.list()
end

-- lmgr.manage(what, id) runs plugbay.plugins[what](id): "load", "unload" or "reload".
function M.manage(what, id)
  return plugbay.plugins[what](id)
end

-- lmgr.caught(lib, fn, ...) runs plugbay[lib][fn](...) under pcall and returns what its error carries.
function M.caught(lib, fn, ...)
  local ok, err = pcall(plugbay[lib][fn], ...)
  if ok then
    return {ok = true}
  elseif type(err) ~= "table" then
    return {type = type(err), text = tostring(err)}
  end
  return {type = "table", code = err.code, message = err.message, text = tostring(err)}
end

-- lmgr.unload_self() unloads this plugin and goes on running: the call answers, then the plugin stops.
function M.unload_self()
  local state = plugbay.plugins.unload(plugbay.id)
  return {state = state.state, after = "still running"}
end

function M.tick_beat()
  ticks.beat = ticks.beat + 1
end

function M.tick_a()
  ticks.a = ticks.a + 1
end

function M.tick_b()
  ticks.b = ticks.b + 1
end

-- on_load sets timer "boot" (tick_a every 20 ms), set once the load ended.
function M.on_load()
  plugbay.timer.set("boot", 20, "tick_a")
end

return M
