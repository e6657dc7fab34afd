-- wait-for-replicas.lua - a custom step (the `lua` module): waits until
-- Deployments have all their replicas ready again, e.g. after a node's drain
-- and uncordon, before the next node is touched.
--
--   - name: Wait until the workloads are back to full replicas
--     lua:
--       script: steps/wait-for-replicas.lua
--       args:
--         namespace: default      # omitted: every namespace
--         name: nginx             # omitted: every Deployment (of the namespace)
--         timeout: 300            # seconds, default 300
--         interval: 2             # seconds between polls, default 2
--     register: replicas
--
-- The task result: changed false; `ready` (list of "ns/name ready/wanted"),
-- `waited` (seconds); failed, naming the Deployments still short, when the
-- timeout passes. Through kplan.kube, with the run's kubeconfig. Read-only:
-- it runs in check mode too.
kplan.readonly()

local a = ctx.args or {}
local timeout = tonumber(a.timeout) or 300
local interval = tonumber(a.interval) or 2
if timeout < 0 or interval <= 0 then
  kplan.fail("wait-for-replicas: timeout must be >= 0 and interval > 0 seconds")
end
local ns, name = a.namespace, a.name
if name and not ns then
  ns = "default"
end

local path
if name then
  path = "/apis/apps/v1/namespaces/" .. ns .. "/deployments/" .. name
elseif ns then
  path = "/apis/apps/v1/namespaces/" .. ns .. "/deployments"
else
  path = "/apis/apps/v1/deployments"
end

-- -> list of {id, ready, wanted}
local function poll()
  local status, body = kplan.kube("GET", path)
  if status ~= 200 then
    kplan.fail("wait-for-replicas: GET " .. path .. ": HTTP " .. status .. " "
      .. (type(body) == "table" and body.message or ""))
  end
  local items = name and { body } or body.items or {}
  local out = {}
  for _, d in ipairs(items) do
    local wanted = (d.spec or {}).replicas
    if wanted == nil then
      wanted = 1
    end
    out[#out + 1] = {
      id = d.metadata.namespace .. "/" .. d.metadata.name,
      ready = (d.status or {}).readyReplicas or 0,
      wanted = wanted,
    }
  end
  return out
end

local start = os.time()
while true do
  local deps, ready, short = poll(), {}, {}
  for _, d in ipairs(deps) do
    local s = string.format("%s %d/%d", d.id, d.ready, d.wanted)
    ready[#ready + 1] = s
    if d.ready < d.wanted then
      short[#short + 1] = s
    end
  end
  local waited = os.time() - start
  if #short == 0 then
    return {
      changed = false,
      msg = string.format("%d Deployment%s at full replicas", #deps, #deps == 1 and "" or "s"),
      ready = ready,
      waited = waited,
    }
  end
  if waited >= timeout then
    kplan.fail(string.format("Deployments not at full replicas after %ds: %s", timeout,
      table.concat(short, ", ")))
  end
  kplan.sleep(math.min(interval, math.max(timeout - waited, 0)))
end
