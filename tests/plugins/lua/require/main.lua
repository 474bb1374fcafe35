-- tests/plugins/lua/require/main.lua — lua/require: tries require "socket" and a path outside its folder.
return {
  -- require.try makes the attempt; it must fail with a clear error.
  try = function()
    return require "socket"
  end,
  outside = function()
    return require "../basic/main"
  end,
  ping = function()
    return "pong"
  end,
}
