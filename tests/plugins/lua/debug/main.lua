-- tests/plugins/lua/debug/main.lua — lua/debug: tries debug.getregistry.
return {
  -- debug.try makes the attempt; it must fail with a clear error.
  try = function()
    return #debug.getregistry()
  end,
  ping = function()
    return "pong"
  end,
}
