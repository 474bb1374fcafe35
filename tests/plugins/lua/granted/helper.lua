-- tests/plugins/lua/granted/helper.lua — a module lua/granted loads with Lua's own require (permission lua.package).
return {answer = 42}
