"""Modules written by `make generate` (the generators are in codegen/, outside the package): do not edit."""
