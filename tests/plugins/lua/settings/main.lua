-- tests/plugins/lua/settings/main.lua — lua/settings: reads its settings and keeps what on_settings saw.
local heard = nil -- what the last on_settings saw

local M = {}

-- luaset.greet(name) greets with the setting greeting.
function M.greet(name)
  return plugbay.setting("greeting") .. ", " .. name .. "!"
end

-- luaset.setting(key) returns setting key (nil for one the manifest does not declare).
function M.setting(key)
  return plugbay.setting(key)
end

-- luaset.all() returns every setting.
function M.all()
  return plugbay.settings()
end

-- luaset.heard() returns what the last on_settings saw: its arguments, the Lua types of the values, and
-- what plugbay.setting said meanwhile; nil before any.
function M.heard()
  return heard
end

-- on_settings keeps what it saw, and fails for the greeting "Fail" (after keeping it).
function M.on_settings(settings, changed)
  heard = {
    settings = settings,
    changed = changed,
    retries_type = math.type(settings.retries),
    greeting_now = plugbay.setting("greeting"),
  }
  if settings.greeting == "Fail" then
    error("cannot greet with " .. settings.greeting)
  end
end

return M
