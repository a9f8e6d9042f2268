-- Health of a multigres.com child kind (or of the MultigresCluster) for Argo CD, from the status
-- the multigres-krmfn status reporter writes: the Available and Progressing conditions.
--   no status yet, or a status older than the spec   -> Progressing
--   Progressing True                                 -> Progressing (with what is not available yet)
--   Available False                                  -> Degraded
--   Available True                                   -> Healthy
--   Available Unknown (multiadmin did not answer)    -> Unknown
-- Only the base and table libraries are used: Argo CD runs resource.customizations without the
-- string library unless useOpenLibs is set.
local hs = {}

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the status reporter to report this " .. obj.kind
  return hs
end

if obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the status of generation " .. obj.metadata.generation
  return hs
end

local available = nil
local progressing = nil
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Available" then
    available = condition
  elseif condition.type == "Progressing" then
    progressing = condition
  end
end

if available == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the Available condition"
  return hs
end

if progressing ~= nil and progressing.status == "True" then
  hs.status = "Progressing"
  if available.status ~= "True" and available.message ~= nil then
    hs.message = available.message
  else
    hs.message = progressing.message
  end
  return hs
end

if available.status == "True" then
  hs.status = "Healthy"
elseif available.status == "False" then
  hs.status = "Degraded"
else
  hs.status = "Unknown"
end
hs.message = available.message
return hs
