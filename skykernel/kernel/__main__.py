"""`python -m skykernel.kernel [--lua=5.5] -f CONNECTION_FILE`: the kernel process.

`--lua` is ours (the "Skynet (Lua 5.5)" kernelspec passes it) and is taken out before
ipykernel reads the rest; without it the kernel runs the default Lua (5.4, or
$SKYKERNEL_LUA)."""

import sys

from ipykernel.kernelapp import IPKernelApp

from ..node.luaversion import LuaVersionError, check_version, default_version
from .kernel import SkynetKernel


def _take_lua(argv: list[str]) -> str | None:
    """Remove `--lua=V` / `--lua V` from argv; return V (checked), or None."""
    for i, arg in enumerate(argv):
        if arg == "--lua" and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i : i + 2]
            return check_version(value)
        if arg.startswith("--lua="):
            del argv[i]
            return check_version(arg.partition("=")[2])
    return None  # the default, checked by the caller


try:
    lua = _take_lua(sys.argv) or default_version()
except LuaVersionError as e:
    sys.exit(f"skykernel.kernel: {e}")
IPKernelApp.launch_instance(kernel_class=SkynetKernel.speaking(lua))
