"""API names needed on paths that must not import pydantic (function mode, the plugins)."""

CONFIG_KIND = "RenderMultigres"
CONFIG_API_VERSION = "fn.multigres.com/v1alpha1"
