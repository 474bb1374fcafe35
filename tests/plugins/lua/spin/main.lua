-- tests/plugins/lua/spin/main.lua — lua/spin: spins until its call is cancelled or its deadline passes.
return {
  -- spin.try makes the attempt; it must fail with a clear error.
  try = function()
    while true do end
  end,
  ping = function()
    return "pong"
  end,
}
