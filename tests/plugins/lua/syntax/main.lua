-- tests/plugins/lua/syntax/main.lua — lua/syntax: a syntax error on line 3.
local M = {}
function M.ping() return "pong" end end
return M
