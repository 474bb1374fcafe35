-- main.lua — @ID@: greets people by name (@NAME@.greet) and answers the @NAME@.started event.

-- greet(name) returns "GREETING, NAME!", GREETING from the configuration ("Hello").
local function greet(name)
  if type(name) ~= "string" then
    error("@NAME@.greet: argument 1 must be a name, got " .. type(name))
  end
  return string.format("%s, %s!", plugbay.config("greeting") or "Hello", name)
end

-- started() logs a line and answers which plugin heard it.
local function started()
  plugbay.log("info", "the application started")
  return plugbay.id
end

-- selftest() holds the plugin's own assertions, in Lua: tests.json calls it in the context "test", which no host's
-- call is made in unless it asks, and a failed assert fails that case with its message.
local function selftest()
  assert(greet("Ada") == "Hello, Ada!", "greet greets by name")
  local ok, err = pcall(greet, 42)
  assert(not ok and tostring(err):find("must be a name"), "greet refuses what is not a name")
  assert(started() == plugbay.id, "started answers the plugin's id")
end

return {greet = greet, started = started, selftest = selftest}
