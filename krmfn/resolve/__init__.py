"""Resolve stage: a MultigresCluster and its templates in, the child custom resources out.

Only this stage knows templates exist; everything after it reads the resolved children
(docs/design.md). The package imports nothing on purpose: function mode imports only the modules
it uses, so that valid input never pulls in pydantic.
"""
