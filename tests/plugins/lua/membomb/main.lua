-- tests/plugins/lua/membomb/main.lua — lua/membomb: string.rep in a loop under a memory limit of 8 MB.
return {
  -- membomb.try makes the attempt; it must fail with a clear error.
  try = function()
    local t = {}
    for i = 1, 1000000 do
      t[i] = string.rep("x", 1000000)
    end
  end,
  fits = function()
    return #string.rep("y", 4000000)
  end,
  ping = function()
    return "pong"
  end,
}
