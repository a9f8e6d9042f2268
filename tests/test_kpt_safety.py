"""Issue 13 under the real kpt: ownership, same-name clusters, includeCrds twice."""

from __future__ import annotations

from pathlib import Path

from test_kpt import changed, commit, generated_files, package, render, result_items

SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: minimal-postgres-password
  namespace: default
  labels:
    app.kubernetes.io/managed-by: multigres-krmfn
  annotations:
    multigres.com/generated-from: default/minimal
stringData:
  password: "x"
"""


def test_password_secret_with_generated_from_survives_kpt(tmp_path: Path) -> None:
    pkg = package(tmp_path, "minimal", unrelated=False)
    (pkg / "secret.yaml").write_text(SECRET)
    commit(pkg)
    proc = render(pkg, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr
    assert (pkg / "secret.yaml").read_text() == SECRET
    assert not [r for r in result_items(tmp_path / "results") if "no longer generated" in r["message"]]


def test_same_cluster_name_in_two_namespaces_under_kpt(tmp_path: Path) -> None:
    pkg = package(tmp_path, "minimal", unrelated=False)
    text = (pkg / "cluster.yaml").read_text()
    (pkg / "other.yaml").write_text(text.replace("namespace: default", "namespace: other"))
    commit(pkg)
    proc = render(pkg, tmp_path / "results")
    assert proc.returncode == 0, proc.stderr
    files = generated_files(pkg)
    assert any(f.startswith("generated/default/minimal/") for f in files)
    assert any(f.startswith("generated/other/minimal/") for f in files)
    commit(pkg)
    again = render(pkg)
    assert again.returncode == 0, again.stderr
    assert changed(pkg) == []


def test_include_crds_second_render_under_kpt(tmp_path: Path) -> None:
    pkg = package(tmp_path, "minimal", unrelated=False)
    (pkg / "fn-config.yaml").write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: render-config\n  annotations:\n"
        "    config.kubernetes.io/local-config: \"true\"\ndata:\n  includeCrds: \"true\"\n")
    kptfile = (pkg / "Kptfile").read_text()
    assert "exec: multigres-krmfn" in kptfile
    (pkg / "Kptfile").write_text(kptfile.replace("configPath: render.yaml", "configPath: fn-config.yaml"))
    commit(pkg)
    first = render(pkg)
    assert first.returncode == 0, first.stderr
    assert any(f.startswith("generated/crds/") for f in generated_files(pkg))
    commit(pkg)
    second = render(pkg, tmp_path / "results")
    assert second.returncode == 0, second.stderr
    assert changed(pkg) == []
