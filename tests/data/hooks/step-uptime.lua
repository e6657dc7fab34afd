-- step-uptime.lua - a custom step: reads a marker file on the host.
local ctx = ...
local rc, out = kplan.run(ctx.host, "cat " .. ctx.args.file)
if rc ~= 0 then
  return {failed = true, msg = "no marker"}
end
return {changed = false, msg = "marker: " .. out:gsub("\n$", ""), marker = out:gsub("\n$", ""), seen = true}
