-- tests/plugins/lua/nofunc/main.lua — lua/nofunc: has ping, but the manifest asks for pong.
return {ping = function() return "pong" end, other = function() end}
