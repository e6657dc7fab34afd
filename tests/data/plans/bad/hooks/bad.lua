-- a syntax error on line 3
local x
x end
