module multigres-krmfn.local/pause

go 1.26.0
