"""Install the `skynet` kernelspecs for environments other than the one Jupyter runs in.

There is one kernel per Lua version, so that a notebook runs the Lua its servers run:
`skynet`, "Skynet (Lua 5.4)" as skynet 1.8, and `skynet-lua55`, "Skynet (Lua 5.5)" as
skynet master. The 5.4 kernel passes no version: it runs the default, 5.4 unless the
environment variable SKYKERNEL_LUA says otherwise (that is how the test suite runs its
kernels on 5.5).

`pip install .` already installs both through the wheel's shared data, whose `python` is
resolved by jupyter_client. For a Jupyter living elsewhere, a spec must name this
interpreter by absolute path; that is what this writes, as `ipython kernel install`
does, with the same options: `--name` and `--display-name` for a kernel of your own
(`--lua` picks its version), `--env NAME VALUE` for its environment.

Each spec carries the logo (`skykernel/logo.py`) and `docs.html`, skykernel's docs on one
page: Jupyter's server serves a kernelspec's files, so the kernel's Help menu opens the
docs offline.
"""

from __future__ import annotations

import html
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from . import logo

#: kernel name -> (display name, the `--lua` the kernel is started with, if any)
KERNELS: dict[str, tuple[str, str | None]] = {
    "skynet": ("Skynet (Lua 5.4)", None),
    "skynet-lua55": ("Skynet (Lua 5.5)", "5.5"),
}
KERNEL_NAME = "skynet"
DISPLAY_NAME = KERNELS[KERNEL_NAME][0]
#: the kernel of each Lua version
BY_LUA = {"5.4": "skynet", "5.5": "skynet-lua55"}


def kernel_spec(executable: str | None = None, name: str = KERNEL_NAME, *,
                display_name: str | None = None, lua: str | None = None,
                env: dict[str, str] | None = None) -> dict[str, Any]:
    """kernel.json of kernel `name`: one of KERNELS, or a name of your own (its Lua:
    `lua`, else the default, 5.4 or $SKYKERNEL_LUA)."""
    default_display, default_lua = KERNELS.get(name, (None, None))
    lua = lua or default_lua
    argv = [executable or sys.executable, "-m", "skykernel.kernel"]
    if lua is not None:
        argv.append(f"--lua={lua}")
    spec: dict[str, Any] = {
        "argv": [*argv, "-f", "{connection_file}"],
        "display_name": display_name or default_display or f"Skynet (Lua {lua or '5.4'})",
        "language": "lua",
        "interrupt_mode": "signal",
        "metadata": {"debugger": False},
    }
    if env:
        spec["env"] = dict(env)
    return spec


def docs_dir() -> Path | None:
    """skykernel's docs: in the wheel (beside the package) or in a source checkout."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "docs", here.parent / "docs"):
        if candidate.is_dir():
            return candidate
    return None


def docs_html() -> str:
    """The README and docs/*.md on one page, as the Markdown they are written in (plain
    text reads well; no renderer to depend on), with a list of contents."""
    pages: list[tuple[str, str]] = []
    docs = docs_dir()
    if docs is not None:
        readme = docs.parent / "README.md"
        if not readme.is_file():
            readme = docs / "README.md"
        if readme.is_file():
            pages.append(("README", readme.read_text(encoding="utf-8")))
        pages += [(p.stem, p.read_text(encoding="utf-8"))
                  for p in sorted(docs.glob("*.md")) if p.name != "README.md"]
    toc = "".join(f'<li><a href="#{html.escape(n)}">{html.escape(n)}</a></li>' for n, _ in pages)
    body = "".join(f'<h2 id="{html.escape(n)}">{html.escape(n)}</h2>'
                   f"<pre>{html.escape(text)}</pre>" for n, text in pages)
    if not pages:
        body = "<p>The docs are not installed with this copy of skykernel.</p>"
    return ("<!DOCTYPE html><html><head><meta charset='utf-8'><title>skykernel docs</title>"
            "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto;padding:0 1em}"
            "pre{white-space:pre-wrap;font-size:0.9em;background:#f6f8fa;padding:1em}"
            "</style></head><body><h1>skykernel</h1><p>A Jupyter kernel whose process is a "
            "small skynet node. In a notebook, <code>%help</code> lists the magics and "
            "<code>NAME?</code> tells what a Lua name is.</p>"
            f"<ul>{toc}</ul>{body}</body></html>\n")


def write_spec(directory: Path, spec: dict[str, Any], lua: str) -> None:
    """kernel.json, the logos and docs.html into directory."""
    (directory / "kernel.json").write_text(json.dumps(spec, indent=2) + "\n")
    for name, data in logo.files(lua).items():
        (directory / name).write_bytes(data)
    (directory / "docs.html").write_text(docs_html(), encoding="utf-8")


def install(user: bool = False, sys_prefix: bool = False, prefix: str | None = None, *,
            name: str | None = None, display_name: str | None = None,
            lua: str | None = None, env: dict[str, str] | None = None) -> list[str]:
    """Write the specs (both, or the one `name` / `lua` names) and return where they went."""
    from jupyter_client.kernelspec import KernelSpecManager

    if sys_prefix:
        prefix = sys.prefix
    if name is None and lua is None and display_name is None:
        wanted = list(KERNELS)  # both, as shipped
    else:
        wanted = [name or BY_LUA[lua or "5.4"]]
        if name is not None and name in BY_LUA.values() and lua is None:
            lua = KERNELS[name][1]
    installed = []
    for kernel in wanted:
        chosen = lua if len(wanted) == 1 else None
        spec = kernel_spec(name=kernel, display_name=display_name, lua=chosen, env=env)
        version = chosen or KERNELS.get(kernel, (None, None))[1] or "5.4"
        with tempfile.TemporaryDirectory() as tmp:
            write_spec(Path(tmp), spec, version)
            installed.append(KernelSpecManager().install_kernel_spec(
                tmp, kernel, user=user, prefix=prefix))
    return installed
