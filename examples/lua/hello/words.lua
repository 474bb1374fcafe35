-- examples/lua/hello/words.lua — a helper module of example/lua-hello, loaded with require "words".
local words = {}

-- words.greeting returns "GREETING, NAME!", or "GREETING, NAME1 and NAME2!" for a list of names.
function words.greeting(greeting, names)
  if type(names) == "table" then
    names = table.concat(names, " and ")
  end
  return string.format("%s, %s!", greeting, names)
end

return words
