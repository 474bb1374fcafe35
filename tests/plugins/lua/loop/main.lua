-- tests/plugins/lua/loop/main.lua — lua/loop: endless loops under an instruction limit of 2 million.
return {
  -- loop.try makes the attempt; it must fail with a clear error.
  try = function()
    while true do end
  end,
  pcall = function()
    while true do
      pcall(function() while true do end end)
    end
  end,
  coroutine = function()
    local co = coroutine.wrap(function() while true do end end)
    return co()
  end,
  enough = function()
    local n = 0
    for i = 1, 100000 do n = n + i end
    return n
  end,
  ping = function()
    return "pong"
  end,
}
