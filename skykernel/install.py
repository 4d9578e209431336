"""Install the `skynet` kernelspecs for environments other than the one Jupyter runs in.

There is one kernel per Lua version, so that a notebook runs the Lua its servers run:
`skynet`, "Skynet (Lua 5.4)" as skynet 1.8, and `skynet-lua55`, "Skynet (Lua 5.5)" as
skynet master. The 5.4 kernel passes no version: it runs the default, 5.4 unless the
environment variable SKYKERNEL_LUA says otherwise (that is how the test suite runs its
kernels on 5.5).

`pip install .` already installs both through the wheel's shared data, whose `python` is
resolved by jupyter_client. For a Jupyter living elsewhere, a spec must name this
interpreter by absolute path; that is what this writes.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

#: kernel name -> (display name, the `--lua` the kernel is started with, if any)
KERNELS: dict[str, tuple[str, str | None]] = {
    "skynet": ("Skynet (Lua 5.4)", None),
    "skynet-lua55": ("Skynet (Lua 5.5)", "5.5"),
}
KERNEL_NAME = "skynet"
DISPLAY_NAME = KERNELS[KERNEL_NAME][0]


def kernel_spec(executable: str | None = None, name: str = KERNEL_NAME) -> dict:
    display_name, lua = KERNELS[name]
    argv = [executable or sys.executable, "-m", "skykernel.kernel"]
    if lua is not None:
        argv.append(f"--lua={lua}")
    return {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "lua",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }


def install(user: bool = False, sys_prefix: bool = False, prefix: str | None = None
            ) -> list[str]:
    """Write every spec and return where they went."""
    from jupyter_client.kernelspec import KernelSpecManager

    if sys_prefix:
        prefix = sys.prefix
    installed = []
    for name in KERNELS:
        with tempfile.TemporaryDirectory() as tmp:
            Path(tmp, "kernel.json").write_text(json.dumps(kernel_spec(name=name), indent=2))
            installed.append(KernelSpecManager().install_kernel_spec(
                tmp, name, user=user, prefix=prefix))
    return installed
