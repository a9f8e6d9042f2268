# Developer entry points. The README's two commands need none of this; CI runs .ci/run.
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: venv test e2e lint generate golden fixtures constraints bench fuzz clean

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml constraints.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install -q -c constraints.txt -e '.[test,status]'
	touch $@

# The unit suite: everything but the real-node tests (pyproject.toml's addopts deselect `e2e`).
test: venv
	$(PY) -m pytest -q

# The e2e suite (marker `e2e`): the real-node tests (tests/e2e) and the tests that start real servers
# (kube-apiserver, etcd clusters). Installs the host packages first (tools/host-packages.sh; without
# root it stops and names the command to run), builds the node's tools and images on first use and
# starts the node. Only one node may run on a machine at a time.
e2e:
	bash tools/host-packages.sh
	$(MAKE) venv
	$(PY) -m pytest -q -m e2e

# Every shell script of the repository; tests/test_shellcheck.py checks that none is left out and
# that the scripts the function renders are clean too.
SHELL_SCRIPTS := .ci/run tools/*.sh scripts/*.sh kustomization/legacy/install-plugin.sh

# ruff (complexity at most 10), mypy --strict and shellcheck, as .ci/run runs them; settings in
# pyproject.toml (-x: follow the `source`d files the scripts name).
lint: venv
	$(VENV)/bin/ruff check krmfn krmfn_status krmfn_etcd codegen tests
	$(VENV)/bin/mypy krmfn krmfn_status krmfn_etcd codegen
	shellcheck -x $(SHELL_SCRIPTS)

# Every generated file, from the pydantic models in krmfn/api (generators in codegen/, outside the
# package): the CRDs, the pydantic-free validator, the child kinds' classes, function.yaml's schema.
# Run after any model change and commit the result; the staleness tests fail until then.
generate: venv
	$(PY) -m codegen

# Rewrite the golden files after an intended output change (review the diff!).
golden: venv
	UPDATE_GOLDEN=1 $(PY) -m pytest -q tests/test_examples.py

# Rewrite the examples' .expected/ (diff.patch, results.yaml) through the real kpt after an
# intended output change: diff.patch is the one golden of the rendered objects (review the diff!).
fixtures: venv
	KPT_FIXTURES_UPDATE=1 $(PY) -m pytest -q tests/test_kpt_fixtures.py

# constraints.txt: exact pins of the runtime dependencies and theirs as this venv has them (the
# Dockerfile installs with it); tests/test_dependencies.py fails when it differs from the venv.
constraints: venv
	$(PY) tests/deps.py > constraints.txt.tmp
	mv constraints.txt.tmp constraints.txt

# Times a non-editable install (.venv-bench, reinstalled from this tree), as a container runs it:
# an editable install adds its import hook to every start-up, the floors' included.
BENCH_VENV ?= .venv-bench
bench: venv
	test -x $(BENCH_VENV)/bin/python || python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q --force-reinstall --no-deps . && $(BENCH_VENV)/bin/pip install -q .
	$(PY) scripts/bench.py --exe $(BENCH_VENV)/bin/multigres-krmfn

# Property-based tests with the long hypothesis profile, fresh seeds, for ten minutes (FUZZ_SECONDS).
fuzz: venv
	PY=$(PY) scripts/fuzz.sh

clean:
	rm -rf $(VENV) $(BENCH_VENV) .pytest_cache .ruff_cache .mypy_cache

include tools/tools.mk
