-- no-second-batch.lua - refuses to start batch 2.
local ctx = ...
if ctx.batch.index == 2 then
  kplan.fail("no second batch today")
end
