-- tests/plugins/lua/granted/main.lua — lua/granted: granted lua.io, lua.os, lua.debug and lua.package; keeps a note in its data folder.
local function path()
  return plugbay.data_dir() .. "/note.txt"
end

return {
  -- granted.libs reports what the granted permissions opened.
  libs = function()
    return {
      os = type(os.getenv) == "function" and type(os.remove) == "function",
      debug = type(debug.getinfo) == "function",
      package = type(package.loadlib) == "function" and package.path:match("^[^;]*"):sub(-18) == "/lua/granted/?.lua",
      helper = require("helper").answer,
    }
  end,
  write = function(text)
    local f = assert(io.open(path(), "w"))
    f:write(text)
    f:close()
    return true
  end,
  read = function()
    local f = assert(io.open(path(), "r"))
    local text = f:read("a")
    f:close()
    return text
  end,
}
