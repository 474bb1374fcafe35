-- tests/plugins/lua/os/main.lua — lua/os: tries os.execute; os.time stays available.
return {
  -- os.try makes the attempt; it must fail with a clear error.
  try = function()
    return os.execute("touch /tmp/plugbay-lua-escaped")
  end,
  time = function()
    return math.type(os.time()) .. " " .. type(os.clock()) .. " " .. type(os.date("%Y"))
  end,
  ping = function()
    return "pong"
  end,
}
