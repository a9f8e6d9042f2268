"""The reporter's loop: watch, recompute, write only what changed.

One thread per watched kind keeps a cache of its objects, as an informer does: it lists them
(the list replaces what the cache held of that kind), then watches from the list's
resourceVersion. lightkube resumes a stream that drops, but a reconnect that is refused (an API
server restarting) or a resourceVersion that expired ends its watch: the thread then lists and
watches again after a back-off, so a restart of the API server never leaves a kind unwatched.
Every event sets a flag; the main thread wakes on it, waits a short settle time so that a burst
of events (a rollout) gives one round, computes every status (compute.py) and writes those that
differ, through server-side apply on the `status` subresource. Between events it sleeps, except
that multiadmin is asked again every `--multiadmin-interval` seconds: a lost primary changes
multiadmin's answer before any Kubernetes object changes.

Why lightkube: typed resources and a typed client API (mypy checks the calls), watches that
resume on their own, server-side apply on subresources, a small dependency tree (httpx, msgspec,
PyYAML) that fits the 50 MiB budget (about 30 MiB RSS with the watches running), and active
maintenance with models for every Kubernetes release. The official `kubernetes` client is
untyped and heavier; kr8s is async-first and pulls more.
"""

from __future__ import annotations

import argparse
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from . import compute, multiadmin

LOG = logging.getLogger("multigres-status")
FIELD_MANAGER = "multigres-status-reporter"
CUSTOM_KINDS = {"MultigresCluster": "multigresclusters", "MultigresDeploymentTemplate": "multigresdeploymenttemplates",
                "TopoServer": "toposervers", "MultiCell": "multicells", "MultiTableGroup": "multitablegroups",
                "MultiShard": "multishards"}


class Cache:
    """Objects by kind and name, shared by the watch threads and the main loop."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {}
        self.dirty = threading.Event()

    def event(self, kind: str, op: str, obj: dict[str, Any]) -> None:
        """Remember the object (pods only wake the loop: their StatefulSet's counts are what is read)."""
        if kind == "Pod":
            self.dirty.set()
            return
        with self.lock:
            by_name = self.objects.setdefault(kind, {})
            if op == "DELETED":
                by_name.pop(obj["metadata"]["name"], None)
            else:
                by_name[obj["metadata"]["name"]] = obj
        self.dirty.set()

    def replace(self, kind: str, objs: list[dict[str, Any]]) -> None:
        """Every object of a kind, from a fresh list: those deleted while nothing watched go."""
        if kind != "Pod":
            with self.lock:
                self.objects[kind] = {o["metadata"]["name"]: o for o in objs}
        self.dirty.set()

    def snapshot(self) -> dict[str, list[dict[str, Any]]]:
        with self.lock:
            return {kind: list(by_name.values()) for kind, by_name in self.objects.items()}


def _back_off(count: int) -> float:
    """Seconds before the next attempt after `count` failures in a row: never a tight loop, at most 10."""
    return min(1.0 * count, 10.0)


def _retry_later(error: Exception, count: int) -> Any:
    """A watch that fails on an open stream is resumed after a back-off; an expired
    resourceVersion (410 Gone) ends it, so that `watch` lists again."""
    from lightkube.core.exceptions import ApiError
    from lightkube.types import OnErrorAction, OnErrorResult

    if isinstance(error, ApiError) and error.status.code == 410:
        return OnErrorResult(OnErrorAction.RAISE)
    LOG.warning("watch failed (%s), retrying", error)
    return OnErrorResult(OnErrorAction.RETRY, sleep=_back_off(count))


def resources() -> dict[str, Any]:
    """kind → lightkube resource class: the workloads and pods read, the six kinds read and written."""
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.apps_v1 import Deployment, StatefulSet
    from lightkube.resources.core_v1 import Pod

    out: dict[str, Any] = {"Pod": Pod, "StatefulSet": StatefulSet, "Deployment": Deployment}
    for kind, plural in CUSTOM_KINDS.items():
        out[kind] = create_namespaced_resource("multigres.com", "v1alpha1", kind, plural)
    return out


def _plain(obj: Any) -> dict[str, Any]:
    as_dict: dict[str, Any] = obj.to_dict()
    return as_dict


def watch(client: Any, kind: str, res: Any, namespace: str, cache: Cache, labels: dict[str, str] | None,
          pause: Callable[[float], None] = time.sleep) -> None:
    """List, then watch from the list's resourceVersion; forever: whatever ends a watch (an
    exception lightkube raises, or the stream ending) starts a new list after a back-off."""
    failures = 0
    while True:
        try:
            listed = client.list(res, namespace=namespace, labels=labels)
            cache.replace(kind, [_plain(obj) for obj in listed])
            failures = 0
            for op, obj in client.watch(res, namespace=namespace, labels=labels,
                                        resource_version=listed.resourceVersion, on_error=_retry_later):
                cache.event(kind, op, _plain(obj))
            LOG.warning("the watch of %s ended; listing again", kind)
        except Exception as exc:  # a refused connection, an expired resourceVersion, a refused list
            LOG.warning("watching %s failed (%s); listing again", kind, exc)
        failures += 1
        pause(_back_off(failures))


def write(client: Any, res: dict[str, Any], namespace: str, key: tuple[str, str], status: dict[str, Any]) -> None:
    """Server-side apply of one object's status: the reporter owns the whole status, never spec."""
    from lightkube.types import PatchType

    kind, name = key
    body = {"apiVersion": "multigres.com/v1alpha1", "kind": kind, "metadata": {"name": name, "namespace": namespace},
            "status": status}
    client.patch(res[kind].Status, name, body, namespace=namespace, patch_type=PatchType.APPLY,
                 field_manager=FIELD_MANAGER, force=True)


def one_round(cache: Cache, cluster: str, poolers: list[dict[str, Any]] | None,
              writer: Callable[[tuple[str, str], dict[str, Any]], None]) -> int:
    """Compute every status and write those that changed; the number written."""
    objects = cache.snapshot()
    snap = compute.Snapshot(cluster, objects, poolers, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    written = 0
    for key, status in compute.compute(snap).items():
        current = snap.named(*key) or {}
        if compute.changed(current, status):
            try:
                writer(key, status)
                written += 1
            except Exception as exc:  # one refused write must not stop the others
                LOG.warning("writing the status of %s %s failed: %s", *key, exc)
    return written


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="multigres-krmfn-status", description=__doc__.splitlines()[0])
    parser.add_argument("--cluster", required=True, help="the MultigresCluster's name")
    parser.add_argument("--namespace", required=True, help="its namespace (the reporter's own)")
    parser.add_argument("--multiadmin-url", required=True, help="multiadmin's HTTP base URL")
    parser.add_argument("--multiadmin-interval", type=float, default=5.0,
                        help="seconds between multiadmin questions when nothing else happens")
    parser.add_argument("--settle", type=float, default=0.5, help="seconds to gather a burst of events")
    return parser.parse_args(argv)


def configure_logging() -> None:
    """The reporter's own lines at INFO; httpx (lightkube's transport) logs every request and every
    watch reconnect at INFO, which buries them: only its warnings are kept."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    LOG.setLevel(logging.INFO)
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> None:
    from lightkube import Client

    args = parse(argv)
    configure_logging()
    client, res, cache = Client(namespace=args.namespace, field_manager=FIELD_MANAGER), resources(), Cache()
    for kind, cls in res.items():
        labels = None if kind in CUSTOM_KINDS else {"multigres.com/cluster": args.cluster}
        threading.Thread(target=watch, args=(client, kind, cls, args.namespace, cache, labels), daemon=True).start()
    LOG.info("watching %s in %s for cluster %s", ", ".join(res), args.namespace, args.cluster)
    while True:
        cache.dirty.wait(args.multiadmin_interval)
        time.sleep(args.settle)
        cache.dirty.clear()
        poolers = multiadmin.get_poolers(args.multiadmin_url)
        written = one_round(cache, args.cluster, poolers,
                            lambda key, status: write(client, res, args.namespace, key, status))
        if written:
            LOG.info("wrote %d status(es)", written)
