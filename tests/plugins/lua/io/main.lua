-- tests/plugins/lua/io/main.lua — lua/io: tries io.open without the permission lua.io.
return {
  -- io.try makes the attempt; it must fail with a clear error.
  try = function()
    return io.open("/etc/passwd"):read("a")
  end,
  ping = function()
    return "pong"
  end,
}
