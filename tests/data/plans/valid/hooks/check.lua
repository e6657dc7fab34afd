-- before_batch: refuse to start when the cluster is unhappy
local ok = true
return ok
