"""The hot-reload toolkit (docs/reload.md): snax hotfix, module reload, service reload in
place, data hot update, and the patch log that records them and undoes what it can.

Each mechanism runs Lua inside the service it changes, in a `Place` (`_lua.py`): the
in-process node (debug RUN) or a node reached through its debug console (the kernel's
remote target). The Lua halves live in runtime/lualib (snax/hotfix.lua,
skykernel/reload.lua, skynet/sharedata.lua). The names below load on first use, so the
kernel can import the toolkit's small parts without the node (and lupa) at start.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ModuleReport": "module", "reload_module": "module",
    "Patch": "patchlog", "PatchLog": "patchlog", "patchlog": "patchlog",
    "RestartError": "restart", "restart_service": "restart",
    "hotfix": "snax",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


__all__ = sorted(_EXPORTS)
