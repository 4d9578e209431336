"""The hot-reload toolkit (docs/reload.md): snax hotfix, module reload, service reload in
place, data hot update, and the patch log that records them and undoes what it can.

Each mechanism runs Lua inside the service it changes, in a `Place` (`_lua.py`): the
in-process node (debug RUN) or a node reached through its debug console (the kernel's
remote target). The Lua halves live in runtime/lualib (snax/hotfix.lua,
skykernel/reload.lua, skynet/sharedata.lua).
"""

from __future__ import annotations

from typing import Any

from .module import ModuleReport, reload_module
from .patchlog import Patch, PatchLog, patchlog
from .snax import hotfix


def __getattr__(name: str) -> Any:
    # The service reload works on the node's internals (and so imports lupa): it loads on
    # first use, so the kernel can import the rest without the node at start.
    if name in ("RestartError", "restart_service"):
        from . import restart

        return getattr(restart, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ModuleReport", "Patch", "PatchLog", "RestartError", "hotfix", "patchlog",
           "reload_module", "restart_service"]
