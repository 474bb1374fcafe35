-- tests/plugins/lua/badhook/main.lua — lua/badhook: a hook field that is not a function, which fails the load.
return {
  ping = function()
    return "pong"
  end,
  on_update = "migrate later",
}
