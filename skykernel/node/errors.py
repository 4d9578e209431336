"""Errors the node raises to its Python callers, in a module of their own so that the
modules built on the node (the console, the kernel's targets) import them without
importing the node."""

from __future__ import annotations


class CallError(Exception):
    """A call from Python failed: the service raised, died, or does not exist."""


__all__ = ["CallError"]
