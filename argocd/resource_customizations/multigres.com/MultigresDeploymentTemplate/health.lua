-- A MultigresDeploymentTemplate is configuration: it runs nothing, so it is always healthy
-- (its clusters' health shows whether what it describes works).
local hs = {}
hs.status = "Healthy"
hs.message = "A template runs nothing by itself"
return hs
