-- tests/plugins/lua/notable/main.lua — lua/notable: returns a string where a table of functions belongs.
return "not a table"
