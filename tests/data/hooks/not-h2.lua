-- not-h2.lua - fails host h2 before it starts.
kplan.readonly()
if ctx.host == "h2" then
  kplan.fail("h2 is in maintenance")
end
