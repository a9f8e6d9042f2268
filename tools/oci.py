#!/usr/bin/env python3
"""Writes an OCI image layout archive from layer tarballs: what `ctr images import` reads.

The test node has no registry and this machine has no image builder we can rely on, so the
images the render uses by default are assembled here from plain files: each layer is an
uncompressed tar made by GNU tar (deterministic flags in tools/images.sh), and this script adds
the image config, the manifest and the index, content-addressed by SHA-256 as the OCI image
spec (image-layout, manifest, config) describes. Standard library only.

Usage:
  oci.py OUT.tar --name REF [--layer TAR]... [--user U] [--workdir D] [--env K=V]...
         [--entrypoint JSON] [--cmd JSON]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

LAYER = "application/vnd.oci.image.layer.v1.tar"
CONFIG = "application/vnd.oci.image.config.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX = "application/vnd.oci.image.index.v1+json"
EPOCH = "1970-01-01T00:00:00Z"  # fixed: the same inputs give the same digests


def _digest_file(path: Path) -> tuple[str, int, str]:
    """(sha256 hex, size, diff_id) of an uncompressed layer; its diff_id is its digest."""
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest(), path.stat().st_size, "sha256:" + h.hexdigest()


def _json_blob(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    tar.addfile(info, io.BytesIO(data))


def _add_file(tar: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
    with path.open("rb") as f:
        tar.addfile(info, f)


def build(out: Path, name: str, layers: list[Path], config: dict[str, object]) -> str:
    """Write the archive; returns the manifest digest."""
    layer_meta = [_digest_file(p) for p in layers]
    image_config = {
        "architecture": "amd64", "os": "linux", "created": EPOCH,
        "config": config,
        "rootfs": {"type": "layers", "diff_ids": [m[2] for m in layer_meta]},
        "history": [{"created": EPOCH, "created_by": f"tools/oci.py layer {i}"} for i in range(len(layers))],
    }
    cfg = _json_blob(image_config)
    manifest = {
        "schemaVersion": 2, "mediaType": MANIFEST,
        "config": {"mediaType": CONFIG, "digest": "sha256:" + hashlib.sha256(cfg).hexdigest(), "size": len(cfg)},
        "layers": [{"mediaType": LAYER, "digest": "sha256:" + d, "size": s} for d, s, _ in layer_meta],
    }
    man = _json_blob(manifest)
    man_digest = "sha256:" + hashlib.sha256(man).hexdigest()
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
    index = {
        "schemaVersion": 2, "mediaType": INDEX,
        "manifests": [{"mediaType": MANIFEST, "digest": man_digest, "size": len(man),
                       "annotations": {"io.containerd.image.name": name,
                                       "org.opencontainers.image.ref.name": tag}}],
    }
    tmp = out.with_suffix(out.suffix + ".tmp")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        _add_bytes(tar, "oci-layout", _json_blob({"imageLayoutVersion": "1.0.0"}))
        _add_bytes(tar, "index.json", _json_blob(index))
        _add_bytes(tar, "blobs/sha256/" + man_digest.split(":")[1], man)
        _add_bytes(tar, "blobs/sha256/" + hashlib.sha256(cfg).hexdigest(), cfg)
        seen = set()
        for path, (digest, _, _) in zip(layers, layer_meta, strict=True):
            if digest not in seen:
                seen.add(digest)
                _add_file(tar, "blobs/sha256/" + digest, path)
    shutil.move(tmp, out)
    return man_digest


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("out", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--layer", type=Path, action="append", default=[])
    p.add_argument("--user")
    p.add_argument("--workdir")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--entrypoint", type=json.loads)
    p.add_argument("--cmd", type=json.loads)
    a = p.parse_args()
    config: dict[str, object] = {"Env": a.env or ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]}
    for key, value in (("User", a.user), ("WorkingDir", a.workdir), ("Entrypoint", a.entrypoint), ("Cmd", a.cmd)):
        if value is not None:
            config[key] = value
    print(build(a.out, a.name, a.layer, config))


if __name__ == "__main__":
    main()
