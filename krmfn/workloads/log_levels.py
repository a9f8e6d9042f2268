"""`logLevels`: upstream's `--log-level` (servenv, every binary including pgctld) per component."""

from __future__ import annotations

TYPE_CHECKING = False  # `typing` is not imported at run time: start-up cost (docs/performance.md)
if TYPE_CHECKING:
    from .context import ClusterContext


def flags(ctx: ClusterContext, component: str) -> list[str]:
    """`--log-level=<level>` when the cluster sets one for `component`; nothing keeps upstream's info."""
    level = ctx.log_levels.get(component)
    return [f"--log-level={level}"] if level else []
