-- tests/plugins/lua/onload/main.lua — lua/onload: its on_load refuses to load (line 4).
return {
  ping = function() return "pong" end,
  on_load = function() error("missing licence key") end,
}
