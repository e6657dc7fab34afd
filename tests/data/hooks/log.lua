-- log.lua - one note line per hook call: the point, then what it is for.
local ctx = ...
local what = ctx.point
if ctx.batch then what = what .. " b" .. ctx.batch.index end
if ctx.host then what = what .. " " .. ctx.host end
if ctx.task then what = what .. " " .. ctx.task.name end
if ctx.result then what = what .. " rc=" .. tostring(ctx.result.rc) end
kplan.log(what)
