"""Which Lua a node runs: 5.4 (skynet 1.8) or 5.5 (skynet master).

Kept apart from node/luastate.py, which imports lupa, so that the kernel can say which
Lua it speaks (its kernel_info) before anything loads lupa.
"""

from __future__ import annotations

import os

#: The Lua versions a node can run.
VERSIONS = ("5.4", "5.5")
#: What a config that does not say gets, unless the environment variable says otherwise.
DEFAULT_VERSION = "5.4"
#: The environment variable that changes the default (how the test suite runs on 5.5).
VERSION_ENV = "SKYKERNEL_LUA"


class LuaVersionError(ValueError):
    """A Lua version skykernel does not run."""


def check_version(version: str) -> str:
    """`version` itself if skykernel runs it, else LuaVersionError naming the choices."""
    if version not in VERSIONS:
        choices = " or ".join(f'"{v}"' for v in VERSIONS)
        raise LuaVersionError(f"Lua {version!r} is not available: choose {choices}")
    return version


def default_version() -> str:
    """The version a node runs when its config does not say: $SKYKERNEL_LUA, else 5.4."""
    value = os.environ.get(VERSION_ENV, "").strip()
    if not value:
        return DEFAULT_VERSION
    try:
        return check_version(value)
    except LuaVersionError as e:
        raise LuaVersionError(f"{VERSION_ENV}: {e}") from None


__all__ = ["DEFAULT_VERSION", "VERSIONS", "VERSION_ENV", "LuaVersionError", "check_version",
           "default_version"]
