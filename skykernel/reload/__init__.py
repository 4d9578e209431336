"""The hot-reload toolkit (docs/reload.md): snax hotfix, module reload, service reload in
place, data hot update, and the patch log that records them and undoes what it can.

Each mechanism is driven from Python through the node's public API (debug RUN into the
service, node.call); the Lua halves live in runtime/lualib (snax/hotfix.lua,
skykernel/reload.lua, skynet/sharedata.lua).
"""

from .module import ModuleReport, reload_module
from .patchlog import Patch, PatchLog, patchlog
from .restart import RestartError, restart_service
from .snax import hotfix

__all__ = ["ModuleReport", "Patch", "PatchLog", "RestartError", "hotfix", "patchlog",
           "reload_module", "restart_service"]
