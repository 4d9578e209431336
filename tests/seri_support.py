"""The pack format's two Lua-side implementations, for tests that hold them to the same
bytes and errors: skynet/seri.lua (the fallback) and the C build (skykernel/node/native).

Where this machine has no C compiler the C cases skip and say so; where it has one and the
build fails, they fail.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from skykernel.node import native

SERI_LUA = Path(__file__).resolve().parents[1] / "runtime" / "lualib" / "skynet" / "seri.lua"
IMPLS = ("lua", "c")


def c_library(version: str) -> str:
    """The C build for `version`; skips where no compiler exists, raises if it fails."""
    if native.compiler() is None:
        pytest.skip("no C compiler here: the pack format's C build is not tested")
    return native.build(version)


def open_seri(rt: Any, version: str, impl: str) -> Any:
    """The seri table (pack, packstring, unpack) of `impl` inside the runtime rt."""
    if impl == "lua":
        return rt.execute(SERI_LUA.read_bytes())
    opener = rt.eval(b"package.loadlib")(c_library(version).encode(),
                                          native.SERI_OPEN.encode())
    assert opener, "package.loadlib could not open the C build"
    return opener()
