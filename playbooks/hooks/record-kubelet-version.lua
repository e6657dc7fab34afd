-- record-kubelet-version.lua - an after_host hook: records the kubelet
-- version each node ends up with, in the run's output
--
--   hook: k8s-worker-1: kubelet v1.13.3
--
-- and as the host variable `kubelet_version_recorded` (for later tasks, the
-- recap of a registered step, or another hook through kplan.get_var).
--
--   hooks:
--     after_host: hooks/record-kubelet-version.lua
--
-- Read-only (`kubelet --version` changes nothing): it runs in check mode too.
-- A host without a kubelet is reported, not failed: an after_host hook that
-- fails fails its host, and recording must never do that.
kplan.readonly()

local rc, out, err = kplan.run(ctx.host, "kubelet --version", { timeout = 30 })
if rc ~= 0 then
  kplan.log("kubelet version unknown: `kubelet --version` exited " .. rc .. ": "
    .. ((err ~= "" and err or out):gsub("%s+$", "")))
  return
end
-- "Kubernetes v1.13.3"
local version = out:match("v%d+%.%d+%.%d+[%w%.%-%+]*") or (out:gsub("%s+$", ""))
kplan.set_var(ctx.host, "kubelet_version_recorded", version)
kplan.log("kubelet " .. version)
