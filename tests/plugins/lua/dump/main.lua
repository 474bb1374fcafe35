-- tests/plugins/lua/dump/main.lua — lua/dump: tries load(string.dump(f)) and loading bytecode bytes.
return {
  -- dump.try makes the attempt; it must fail with a clear error.
  try = function()
    return load(string.dump(function() return 1 end))()
  end,
  bytes = function()
    return assert(load("\27Lua\84\0\25\147\r\n\26\n"))()
  end,
  text = function()
    return load("return 6 * 7")()
  end,
  ping = function()
    return "pong"
  end,
}
