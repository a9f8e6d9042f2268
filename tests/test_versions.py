"""The default images and the pinned upstream version the tools build must name the same commit."""

from __future__ import annotations

from helpers import ROOT

from krmfn import defaults


def _versions() -> dict[str, str]:
    pairs = {}
    for line in (ROOT / "tools" / "versions.env").read_text().splitlines():
        if "=" in line and not line.lstrip().startswith("#"):
            key, value = line.split("=", 1)
            pairs[key.strip()] = value.strip()
    return pairs


def test_default_multigres_images_match_the_pinned_commit():
    commit = _versions()["MULTIGRES_COMMIT"]
    assert f"sha-{commit[:7]}" == defaults.MULTIGRES_TAG
    assert defaults.MULTIGRES_IMAGE.endswith(defaults.MULTIGRES_TAG)
    assert defaults.PGCTLD_IMAGE.endswith(defaults.MULTIGRES_TAG)


def test_default_etcd_image_matches_the_etcd_the_tests_run():
    assert defaults.ETCD_IMAGE.endswith(":" + _versions()["ETCD_VERSION"])
