-- examples/lua/hello/main.lua — example/lua-hello: greets people (lua.greet) and answers the app.started event.
local words = require "words"

local started = 0 -- how many times app.started reached this plugin; lives as long as the plugin is loaded

-- lua.greet(name) returns "Hello, NAME!"; name may also be a list of names.
local function greet(name)
  if type(name) ~= "string" and type(name) ~= "table" then
    error("lua.greet: argument 1 must be a name or a list of names, got " .. type(name))
  end
  return words.greeting(plugbay.config("greeting") or "Hello", name)
end

-- app.started returns which plugin answered and how often it has.
local function app_started()
  started = started + 1
  plugbay.log("info", "app.started reached %s (%d so far)", plugbay.id, started)
  return {plugin = plugbay.id, language = "lua", count = started}
end

return {
  lua_greet = greet,
  app_started = app_started,
  on_load = function()
    plugbay.log("info", "loaded on %s", _VERSION)
  end,
}
