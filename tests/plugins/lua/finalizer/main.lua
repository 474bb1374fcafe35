-- tests/plugins/lua/finalizer/main.lua — lua/finalizer: tries a __gc metamethod, which would run outside the instruction limit.
return {
  -- finalizer.try makes the attempt; it must fail with a clear error.
  try = function()
    setmetatable({}, {__gc = function() while true do end end})
  end,
  -- finalizer.metatables returns what getmetatable says of a marked table and of a plugbay.store error: had it
  -- answered their metatables, a __gc added to one would run on every table plugbay marks after.
  metatables = function()
    local _, err = pcall(plugbay.store.put, "f", print) -- refused before the store is asked
    return {getmetatable(plugbay.array()), getmetatable(plugbay.map({})), getmetatable(err)}
  end,
  ping = function()
    return "pong"
  end,
}
