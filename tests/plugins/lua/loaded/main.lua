-- tests/plugins/lua/loaded/main.lua — lua/loaded: looks for another plugin's modules in package.loaded and with require.
return {
  -- loaded.try makes the attempt; it must fail with a clear error.
  try = function()
    return require "lua.basic.main"
  end,
  keys = function()
    local keys = plugbay.array()
    for k in pairs(package.loaded) do
      keys[#keys + 1] = k
    end
    table.sort(keys)
    return keys
  end,
  ping = function()
    return "pong"
  end,
}
