"""The reporter's watch threads (krmfn_status/main.py `watch`) outlive the API server's restarts.

lightkube's sync watch resumes a stream that drops, but the reconnect itself is outside its
error handling: a refused connection (an API server restarting) ends the watch with the
exception, which used to end the thread and leave that kind unwatched for the pod's life. The
function now lists and watches again after a back-off. A fake client stands in for lightkube:
the claim is about the loop, not about the API server (tests/test_status_apiserver.py and the
e2e tests run the real one).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from lightkube.core.exceptions import ApiError
from lightkube.models.meta_v1 import Status
from lightkube.types import OnErrorAction

from krmfn_status import main


class Stop(BaseException):
    """Ends the otherwise endless loop (not an Exception, so `watch` does not catch it)."""


class Obj:
    def __init__(self, name: str, note: str = "") -> None:
        self.data = {"metadata": {"name": name}, "note": note}

    def to_dict(self) -> dict[str, Any]:
        return self.data


class Listed(list):  # type: ignore[type-arg]
    def __init__(self, items: list[Obj], version: str) -> None:
        super().__init__(items)
        self.resourceVersion = version


class FakeClient:
    """`list` answers from lists (an exception is raised); `watch` yields the next events, then
    raises the exception that ends them, if any."""

    def __init__(self, lists: list[Any], watches: list[tuple[list[tuple[str, Obj]], BaseException | None]]) -> None:
        self.lists, self.watches = lists, watches
        self.watched_from: list[str] = []

    def list(self, res: Any, namespace: str, labels: Any) -> Listed:
        answer = self.lists.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        assert isinstance(answer, Listed)
        return answer

    def watch(self, res: Any, namespace: str, labels: Any, resource_version: str, on_error: Any) -> Iterator[Any]:
        self.watched_from.append(resource_version)
        events, end = self.watches.pop(0)
        yield from events
        if end is not None:
            raise end


def _run(client: FakeClient, kind: str = "StatefulSet") -> tuple[main.Cache, list[float]]:
    cache, pauses = main.Cache(), []
    with pytest.raises(Stop):
        main.watch(client, kind, object(), "ns", cache, None, pause=pauses.append)
    return cache, pauses


def test_a_refused_connection_does_not_end_the_watch_and_a_new_list_replaces_the_cache() -> None:
    refused = ConnectionRefusedError(111, "Connection refused")
    client = FakeClient(
        lists=[refused, refused, Listed([Obj("a"), Obj("b")], "7"), Listed([Obj("a", "new"), Obj("c")], "9"), Stop()],
        watches=[([("DELETED", Obj("b")), ("ADDED", Obj("d"))], refused), ([], None)])
    cache, pauses = _run(client)
    assert client.watched_from == ["7", "9"]  # each watch starts where its list ended
    assert cache.snapshot()["StatefulSet"] == [{"metadata": {"name": "a"}, "note": "new"},
                                               {"metadata": {"name": "c"}, "note": ""}]  # d went with the relist
    assert pauses == [1.0, 2.0, 1.0, 1.0]  # backs off while failing, starts over after a success
    assert cache.dirty.is_set()


def test_pods_only_wake_the_loop() -> None:
    client = FakeClient(lists=[Listed([Obj("p")], "3"), Stop()], watches=[([("ADDED", Obj("q"))], None)])
    cache, _ = _run(client, kind="Pod")
    assert cache.snapshot() == {} and cache.dirty.is_set()


def test_an_expired_resource_version_ends_lightkubes_watch_so_that_it_lists_again() -> None:
    gone = ApiError(status=Status(code=410, message="too old resource version"))
    assert main._retry_later(gone, 1).action is OnErrorAction.RAISE
    dropped = main._retry_later(ConnectionResetError(), 3)
    assert dropped.action is OnErrorAction.RETRY and dropped.sleep == 3.0
    assert main._retry_later(ConnectionResetError(), 50).sleep == 10.0


def test_the_client_library_does_not_log_each_request() -> None:
    """httpx logs "HTTP Request: ..." at INFO for every call and watch: the reporter keeps its own
    INFO lines and only the transport's warnings."""
    import logging

    from krmfn_status.main import LOG, configure_logging

    configure_logging()
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
    assert logging.getLogger("httpx").isEnabledFor(logging.WARNING)
    assert LOG.isEnabledFor(logging.INFO)
