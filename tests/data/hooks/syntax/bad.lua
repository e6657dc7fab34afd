local ctx = ...
if ctx.host then
  kplan.log("x"
end
