# Makefile fragment: `include tools/tools.mk` from the top-level Makefile.
#
# The tools are built from the Go module proxy into a cache outside the
# checkout (see tools/build.sh); each target is a no-op once its binaries are
# cached, so they are phony and always delegate to the script, which knows
# what is cached far better than make's timestamps would.

TOOLS_BUILD ?= tools/build.sh

.PHONY: tools tools-kustomize tools-etcd tools-kube-apiserver tools-multigres

# Everything the tests need. Not multigres: the Go module proxy refuses that module here (403),
# so `make tools-multigres` fails until it serves a version (see tools/versions.env).
tools:
	$(TOOLS_BUILD) kustomize etcd kube-apiserver

tools-kustomize:
	$(TOOLS_BUILD) kustomize

tools-etcd:
	$(TOOLS_BUILD) etcd

tools-kube-apiserver:
	$(TOOLS_BUILD) kube-apiserver

tools-multigres:
	$(TOOLS_BUILD) multigres
