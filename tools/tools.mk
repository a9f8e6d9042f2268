# Makefile fragment: `include tools/tools.mk` from the top-level Makefile.
#
# The tools are built from the Go module proxy into a cache outside the
# checkout (see tools/build.sh); each target is a no-op once its binaries are
# cached, so they are phony and always delegate to the script, which knows
# what is cached far better than make's timestamps would.

TOOLS_BUILD ?= tools/build.sh

.PHONY: tools tools-kustomize tools-etcd tools-kubernetes tools-containerd tools-coredns tools-multigres \
	tools-prometheus tools-postgres-exporter \
	tools-kube-network-policies tools-seaweedfs

# Everything the tests need (multigres from its upstream source archive, tools/sources.sh).
tools:
	$(TOOLS_BUILD) kustomize etcd kubernetes containerd coredns multigres prometheus postgres_exporter \
	  kube-network-policies seaweedfs

tools-kustomize:
	$(TOOLS_BUILD) kustomize

tools-etcd:
	$(TOOLS_BUILD) etcd

tools-kubernetes:
	$(TOOLS_BUILD) kubernetes

tools-containerd:
	$(TOOLS_BUILD) containerd

tools-coredns:
	$(TOOLS_BUILD) coredns

tools-multigres:
	$(TOOLS_BUILD) multigres

tools-prometheus:
	$(TOOLS_BUILD) prometheus

tools-postgres-exporter:
	$(TOOLS_BUILD) postgres_exporter

tools-kube-network-policies:
	$(TOOLS_BUILD) kube-network-policies

tools-seaweedfs:
	$(TOOLS_BUILD) seaweedfs
