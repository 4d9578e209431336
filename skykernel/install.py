"""Install the `skynet` kernelspec for environments other than the one Jupyter runs in.

`pip install .` already installs a kernelspec through the wheel's shared data, whose
`python` is resolved by jupyter_client. For a Jupyter living elsewhere, the spec must
name this interpreter by absolute path; that is what this writes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

KERNEL_NAME = "skynet"
DISPLAY_NAME = "Skynet (Lua 5.4)"


def kernel_spec(executable: str | None = None) -> dict:
    return {
        "argv": [executable or sys.executable, "-m", "skykernel.kernel", "-f", "{connection_file}"],
        "display_name": DISPLAY_NAME,
        "language": "lua",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }


def install(user: bool = False, sys_prefix: bool = False, prefix: str | None = None) -> str:
    """Write the spec and return where it went."""
    from jupyter_client.kernelspec import KernelSpecManager

    if sys_prefix:
        prefix = sys.prefix
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "kernel.json").write_text(json.dumps(kernel_spec(), indent=2))
        return KernelSpecManager().install_kernel_spec(
            tmp, KERNEL_NAME, user=user, prefix=prefix
        )
