-- examples/lua/greeter-ui/main.lua — example/greeter-ui: greets people (greeter.greet), which its console panel calls.
local seen = 0 -- how many greeter.seen events reached it

return {
  -- greeter.greet(name) returns "GREETING, NAME!" with the setting greeting.
  greeter_greet = function(name)
    if type(name) ~= "string" or name == "" then
      error("greeter.greet: argument 1 must be a name, got " .. type(name))
    end
    return plugbay.setting("greeting") .. ", " .. name .. "!"
  end,
  -- greeter.seen counts the events (a panel may not raise it: it is no handle).
  greeter_seen = function()
    seen = seen + 1
    return seen
  end,
}
