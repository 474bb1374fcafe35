-- tests/plugins/lua/store/main.lua — lua/store: plugbay.store from Lua, and hooks that note in it when they ran.
local ran = {} -- the hooks this worker ran, "on_update(1.0.0)" with its argument

local M = {}

function M.get(key)
  return plugbay.store.get(key)
end

function M.put(key, value)
  plugbay.store.put(key, value)
  return true
end

function M.delete(key)
  plugbay.store.delete(key)
  return true
end

function M.keys(prefix)
  return plugbay.store.keys(prefix)
end

function M.sql(sql, params)
  return plugbay.store.sql(sql, params)
end

-- lstore.caught(fn, ...) runs plugbay.store[fn](...) under pcall and returns what its error carries.
function M.caught(fn, ...)
  local ok, err = pcall(plugbay.store[fn], ...)
  if ok then
    return {ok = true}
  elseif type(err) ~= "table" then
    return {type = type(err), text = tostring(err)}
  end
  return {type = "table", code = err.code, message = err.message, text = tostring(err)}
end

-- lstore.put_print() stores a value that cannot be stored: a function.
function M.put_print()
  plugbay.store.put("print", print)
end

-- lstore.hooks() returns the hooks this worker ran and what the store kept of those that ran before.
function M.hooks()
  return {ran = table.concat(ran, " "), kept = plugbay.store.get("hooks") or plugbay.null}
end

function M.ping()
  return "pong"
end

-- note notes hook (with its argument) in memory and, appended, in the store.
local function note(hook)
  ran[#ran + 1] = hook
  local kept = plugbay.store.get("hooks")
  plugbay.store.put("hooks", kept and kept .. " " .. hook or hook)
end

function M.on_install()
  note("on_install")
end

function M.on_update(from)
  note("on_update(" .. from .. ")")
  if plugbay.setting("fail_update") then
    error("cannot migrate from " .. from .. ": told to fail")
  end
end

function M.on_uninstall()
  note("on_uninstall")
  plugbay.log("info", "on_uninstall ran; the store kept: %s", plugbay.store.get("hooks"))
end

return M
