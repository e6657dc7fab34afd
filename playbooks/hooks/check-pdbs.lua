-- check-pdbs.lua - a before_batch hook: do not start a batch while a
-- PodDisruptionBudget that covers pods on the batch's nodes allows no
-- disruption. Draining such a node would wait on its evictions until the
-- drain times out (or, forced, break the budget); stopping here leaves the
-- batch untouched, with the budget named in the run's reason:
--
--   stopped: before_batch hook failed before batch 1/1: .../check-pdbs.lua:NN:
--   PodDisruptionBudget kube-system/coredns allows no disruption ...
--
--   hooks:
--     before_batch: hooks/check-pdbs.lua
--
-- Read-only (it runs in check mode too). The API is reached with the run's
-- kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config); without one, with
-- kubectl and /etc/kubernetes/admin.conf on the first host of
-- kube_control_plane, as the drain module's `api: auto` does.
--
-- A budget that allows no disruption only because some of its pods are
-- still coming back (currentHealthy < expectedPods: the previous batch's
-- evictions) is waited for, up to `pdb_check_wait` seconds (a play or extra
-- variable, default 120); one that allows none with every pod healthy
-- (minAvailable equal to the replicas, maxUnavailable 0) fails at once.
-- A batch host's node is its `node_name` variable, else its inventory name.
kplan.readonly()

local wait = tonumber(ctx.vars.pdb_check_wait) or 120
local admin_conf = "/etc/kubernetes/admin.conf"

-- ---- the API: the run's kubeconfig, else kubectl on the control plane ----
local via_kubectl -- the control-plane host, once kplan.kube found no kubeconfig

local function first_control_plane()
  local groups = ctx.vars.groups or {}
  for _, g in ipairs({ "kube_control_plane", "kube-master", "masters" }) do
    if groups[g] and groups[g][1] then
      return groups[g][1]
    end
  end
  return nil
end

-- GET path -> status, decoded body
local function get(path)
  if not via_kubectl then
    local ok, status, body = pcall(kplan.kube, "GET", path)
    if ok then
      return status, body
    end
    local cp = first_control_plane()
    if not cp then
      kplan.fail("cannot read PodDisruptionBudgets: " .. tostring(status)
        .. " (and no kube_control_plane host to run kubectl on)")
    end
    via_kubectl = cp
    kplan.log("check-pdbs: " .. tostring(status) .. "; using kubectl on " .. cp)
  end
  local rc, out, err = kplan.run(via_kubectl,
    "kubectl --kubeconfig " .. admin_conf .. " get --raw '" .. path .. "'", { become = true })
  if rc ~= 0 then
    if err:find("NotFound") or err:find("could not find") then
      return 404, nil
    end
    kplan.fail("kubectl get --raw " .. path .. " on " .. via_kubectl .. " failed (rc "
      .. rc .. "): " .. (err:gsub("%s+$", "")))
  end
  return 200, from_json(out)
end

local function get_ok(path, what)
  local status, body = get(path)
  if status ~= 200 or type(body) ~= "table" then
    local why = type(body) == "table" and body.message or ""
    kplan.fail("cannot list " .. what .. ": HTTP " .. tostring(status) .. " " .. why)
  end
  return body
end

-- ---- label selectors (matchLabels, matchExpressions) ---------------------
local function selects(sel, labels, empty_matches_all)
  if type(sel) ~= "table" then
    return false -- a budget without a selector selects nothing
  end
  local any = false
  for k, v in pairs(sel.matchLabels or {}) do
    any = true
    if labels[k] ~= v then
      return false
    end
  end
  for _, e in ipairs(sel.matchExpressions or {}) do
    any = true
    local have, inlist = labels[e.key], false
    for _, v in ipairs(e.values or {}) do
      inlist = inlist or have == v
    end
    if (e.operator == "In" and not inlist)
      or (e.operator == "NotIn" and have ~= nil and inlist)
      or (e.operator == "Exists" and have == nil)
      or (e.operator == "DoesNotExist" and have ~= nil) then
      return false
    end
  end
  return any or empty_matches_all
end

-- ---- the pods a drain of the batch's nodes would evict --------------------
local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", c:byte()) end))
end

local function evictable(p)
  local m = p.metadata or {}
  if m.deletionTimestamp then
    return false
  end
  local phase = (p.status or {}).phase
  if phase == "Succeeded" or phase == "Failed" then
    return false
  end
  if (m.annotations or {})["kubernetes.io/config.mirror"] then
    return false -- a static pod: a drain leaves it
  end
  for _, o in ipairs(m.ownerReferences or {}) do
    if o.kind == "DaemonSet" then
      return false -- ignored by a drain (ignore_daemonsets)
    end
  end
  return true
end

local nodes, pods = {}, {}
for _, host in ipairs(ctx.batch.hosts) do
  local node = kplan.get_var(host, "node_name") or host
  nodes[#nodes + 1] = node
  local list = get_ok("/api/v1/pods?fieldSelector=" .. urlencode("spec.nodeName=" .. node),
    "the pods of node " .. node)
  for _, p in ipairs(list.items or {}) do
    if evictable(p) then
      p.node = node
      pods[#pods + 1] = p
    end
  end
end

-- ---- the budgets ----------------------------------------------------------
-- the policy group's preferred version, as kubectl finds it (discovery):
-- policy/v1 from 1.21, policy/v1beta1 before (where an empty selector
-- selects nothing)
local function budgets()
  local group = get_ok("/apis/policy", "the policy API group")
  local gv = ((group.preferredVersion or {}).groupVersion) or "policy/v1beta1"
  return get_ok("/apis/" .. gv .. "/poddisruptionbudgets", "PodDisruptionBudgets"),
    gv == "policy/v1"
end

-- -> the first budget that blocks a pod of the batch, as {b, pods}
local function blocking()
  local list, v1 = budgets()
  for _, b in ipairs(list.items or {}) do
    local allowed = (b.status or {}).disruptionsAllowed or 0
    if allowed < 1 then
      local covered = {}
      for _, p in ipairs(pods) do
        if p.metadata.namespace == b.metadata.namespace
          and selects((b.spec or {}).selector, p.metadata.labels or {}, v1) then
          covered[#covered + 1] = p.metadata.name .. " on " .. p.node
        end
      end
      if #covered > 0 then
        return b, covered, #list.items
      end
    end
  end
  return nil, nil, #(list.items or {})
end

local function describe(b, covered)
  local s, spec = b.status or {}, b.spec or {}
  local rule = spec.minAvailable ~= nil and ("minAvailable " .. tostring(spec.minAvailable))
    or spec.maxUnavailable ~= nil and ("maxUnavailable " .. tostring(spec.maxUnavailable))
    or "no minAvailable/maxUnavailable"
  return string.format("PodDisruptionBudget %s/%s allows no disruption (%s, %s of %s pods healthy) "
    .. "and covers %s: draining would block; not starting batch %s/%s",
    b.metadata.namespace, b.metadata.name, rule, tostring(s.currentHealthy or "?"),
    tostring(s.expectedPods or "?"), table.concat(covered, ", "),
    tostring(ctx.batch.index), tostring(ctx.batch.count))
end

local deadline = os.time() + wait
while true do
  local b, covered, n = blocking()
  if not b then
    kplan.log(string.format("check-pdbs: %d budgets, none blocks batch %s/%s (%s)", n,
      tostring(ctx.batch.index), tostring(ctx.batch.count), table.concat(nodes, ", ")))
    return
  end
  local s = b.status or {}
  local recovering = s.currentHealthy ~= nil and s.expectedPods ~= nil
    and s.currentHealthy < s.expectedPods
  if not recovering or os.time() >= deadline then
    kplan.fail(describe(b, covered) .. (recovering and
      string.format(" (waited %ds for its pods to come back)", wait) or ""))
  end
  kplan.log(string.format("check-pdbs: waiting for PodDisruptionBudget %s/%s: %d of %d pods healthy",
    b.metadata.namespace, b.metadata.name, s.currentHealthy, s.expectedPods))
  kplan.sleep(2)
end
