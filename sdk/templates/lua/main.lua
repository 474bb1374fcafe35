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

return {greet = greet, started = started}
