"""Small helpers to run library code in a service and read what it printed."""

from __future__ import annotations

from typing import Any

from ..node.inject import inject


def lua_str(value: str | None) -> str:
    """A Lua long-bracket string literal for any text (nil for None)."""
    if value is None:
        return "nil"
    level = 0
    while f"]{'=' * level}]" in value:
        level += 1
    eq = "=" * level
    return f"[{eq}[\n{value}]{eq}]"


def lua_value(value: Any) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return lua_str(str(value))


class ReloadError(Exception):
    """A reload step failed in the service; the message is the service's reason."""


async def run_in(node, address: int | str, source: str) -> str:
    """Run `source` in the service; return what it printed, or raise ReloadError."""
    result = await inject(node, address, source, returns=False, nils=False)
    if not result.ok:
        err = (result.error or "error").strip()
        first = err.split("\nstack traceback:")[0].strip()
        raise ReloadError(first)
    return result.output
