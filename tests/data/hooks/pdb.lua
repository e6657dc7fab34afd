-- pdb.lua - refuses a batch while a PodDisruptionBudget allows no disruption.
kplan.readonly()
local status, list = kplan.kube("GET", "/apis/policy/v1/namespaces/default/poddisruptionbudgets")
if status ~= 200 then
  kplan.fail("cannot list PodDisruptionBudgets: HTTP " .. status)
end
for _, b in ipairs(list.items or {}) do
  if (b.status or {}).disruptionsAllowed == 0 then
    kplan.fail("PodDisruptionBudget " .. b.metadata.name .. " allows no disruption")
  end
end
kplan.log("budgets ok: " .. #(list.items or {}))
