-- tests/plugins/lua/badlimit/main.lua — lua/badlimit: fine code, but a bad limit in its config.
return {ping = function() return "pong" end}
