"""A real kube-apiserver with prometheus-operator's CRDs accepts the monitoring objects we render.

The PodMonitor and PrometheusRule CRDs are prometheus-operator's own (the module proxy serves the
module; `example/prometheus-operator-crd/` holds them); `kubectl apply --server-side
--validate=strict` checks every field of examples/monitoring's output against them, and the
built-in kinds (the exporter sidecar, annotations, the dashboard ConfigMap) against the server's.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from apiserver import ApiServer
from helpers import EXAMPLES, ROOT, require_tool, run_cli
from processes import wait_for

from krmfn import yamlio

# It starts a real kube-apiserver and etcd: part of the e2e run (`make e2e`), not of a plain pytest (docs/tools.md,
# "The two test runs"): `pytest -m e2e tests/test_monitoring_apiserver.py`.
pytestmark = pytest.mark.e2e


CONFIG = """\
apiVersion: fn.multigres.com/v1alpha1
kind: RenderMultigres
metadata:
  name: render
  annotations:
    config.kubernetes.io/local-config: "true"
spec:
  includeCrds: true
"""


def _version() -> str:
    for line in (ROOT / "tools" / "versions.env").read_text().splitlines():
        if line.startswith("PROMETHEUS_OPERATOR_VERSION="):
            return line.split("=", 1)[1]
    raise AssertionError("PROMETHEUS_OPERATOR_VERSION is not in tools/versions.env")


@pytest.fixture(scope="module")
def operator_crds() -> list[Path]:
    go = require_tool("go")
    module = f"github.com/prometheus-operator/prometheus-operator@{_version()}"
    proc = subprocess.run([go, "mod", "download", "-json", module], capture_output=True, text=True, env=_go_env())
    info = json.loads(proc.stdout)
    assert "Dir" in info, info.get("Error", proc.stderr)
    folder = Path(info["Dir"]) / "example" / "prometheus-operator-crd"
    return [folder / f"monitoring.coreos.com_{kind}.yaml" for kind in ("podmonitors", "prometheusrules")]


def _go_env() -> dict[str, str]:
    return {**os.environ, "GOTOOLCHAIN": "local", "GOWORK": "off"}


def _apply(server: ApiServer, text: str, *extra: str) -> Any:
    return server.kubectl("apply", "--server-side", "--field-manager=multigres-krmfn", "--validate=strict",
                          *extra, "-f", "-", input=text)


def test_monitoring_example_applies_strictly(apiserver: ApiServer, operator_crds: list[Path], tmp_path: Path) -> None:
    for crd in operator_crds:
        _apply(apiserver, crd.read_text())
    apiserver.kubectl("wait", "--for=condition=established", "--timeout=60s",
                      "crd/podmonitors.monitoring.coreos.com", "crd/prometheusrules.monitoring.coreos.com")
    (tmp_path / "config.yaml").write_text(CONFIG)
    result = run_cli("render", str(EXAMPLES / "monitoring"), "--config", str(tmp_path / "config.yaml"))
    assert result.returncode == 0, result.stderr
    docs = [d for d in (yamlio.load(c) for c in yamlio.split_documents(result.stdout)) if d]
    _apply(apiserver, "".join("---\n" + yamlio.dump(d) for d in docs if d["kind"] == "CustomResourceDefinition"))
    # Retried: `kubectl wait` fails at once on a CRD that has no status yet (seen on the node).
    wait_for(lambda: apiserver.kubectl("wait", "--for=condition=established", "--timeout=60s", "crd", "--all",
                                       check=False).returncode == 0, 60, "CRDs established")
    applied = _apply(apiserver, result.stdout)
    assert not [line for line in applied.stderr.splitlines() if line.startswith("Warning:")], applied.stderr
    served = json.loads(apiserver.kubectl("get", "podmonitors,prometheusrules", "-n", "default", "-o", "json").stdout)
    names = {(o["kind"], o["metadata"]["name"]) for o in served["items"]}
    assert names == {("PodMonitor", "monitoring-postgres-exporter"), ("PodMonitor", "monitoring-etcd"),
                     ("PrometheusRule", "monitoring-alerts")}
