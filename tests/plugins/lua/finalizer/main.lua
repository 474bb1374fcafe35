-- tests/plugins/lua/finalizer/main.lua — lua/finalizer: tries a __gc metamethod, which would run outside the instruction limit.
return {
  -- finalizer.try makes the attempt; it must fail with a clear error.
  try = function()
    setmetatable({}, {__gc = function() while true do end end})
  end,
  ping = function()
    return "pong"
  end,
}
