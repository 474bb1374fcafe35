-- tests/plugins/lua/errtable/main.lua — lua/errtable: raises errors that are not strings.
return {
  -- errtable.try makes the attempt; it must fail with a clear error.
  try = function()
    error({})
  end,
  message = function()
    error({message = "custom failure", code = 7})
  end,
  tostring = function()
    error(setmetatable({}, {__tostring = function() return "told by __tostring" end}))
  end,
  number = function()
    error(42)
  end,
  ping = function()
    return "pong"
  end,
}
