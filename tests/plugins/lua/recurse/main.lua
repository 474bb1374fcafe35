-- tests/plugins/lua/recurse/main.lua — lua/recurse: recursion without end, and a result nested too deep.
return {
  -- recurse.try makes the attempt; it must fail with a clear error.
  try = function()
    local function down(n)
      return 1 + down(n + 1)
    end
    return down(1)
  end,
  deep = function()
    local t = {}
    for i = 1, 100 do t = {t} end
    return t
  end,
  ping = function()
    return "pong"
  end,
}
