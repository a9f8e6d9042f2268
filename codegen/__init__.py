"""Generators of the committed files derived from the pydantic models (`make generate`).

They run at development time only: this folder is outside the `krmfn` package, so neither the
wheel nor the image carries it. Each module's `render()` returns one file's text; __main__.py
writes them all. The tests compare every committed file with its `render()` (staleness).
"""
