"""skykernel's own C, built on this machine: the pack format (seri.c) for every service,
and the direct socket write (directwrite.c).

skynet runs `skynet.pack` / `skynet.unpack` in C, and writes to a socket from the
writing service's thread; so does a skykernel node wherever a C compiler is at hand,
built the first time a node of a Lua version needs it (a fraction of a second, then
cached). Without a compiler, or with SKYKERNEL_NATIVE=0, services use
runtime/lualib/skynet/seri.lua (the same bytes and errors, about four times slower for
a table), and every socket write goes through the socket server in Python.

Each build is linked against the lupa extension of its Lua version, by the extension's
own path. lupa imports its extensions privately (RTLD_LOCAL) and none of them may be
made global (node/luastate.py says why), so a module that merely left the `lua_*`
names undefined would not load; linked this way, its Lua calls go to that extension's
core and no other, and 5.4 and 5.5 nodes can share a process. The build is therefore
tied to one extension file: its path, size and time are part of the cache key, as is
the source.

Where the builds go: $SKYKERNEL_NATIVE_DIR, else $XDG_CACHE_HOME/skykernel, else
~/.cache/skykernel.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
from pathlib import Path

from .. import luastate

HERE = Path(__file__).resolve().parent
SOURCES = ("seri.c", "directwrite.c")
HEADERS = ("luaapi.h",)
#: The function package.loadlib opens (what `require "skynet.seri"` would look for).
SERI_OPEN = "luaopen_skynet_seri"
ENABLE_ENV = "SKYKERNEL_NATIVE"
DIR_ENV = "SKYKERNEL_NATIVE_DIR"
CFLAGS = ("-O2", "-std=c99", "-fPIC", "-shared", "-pthread", "-Wall", "-Werror")

#: Per (version, compiler, cache): (the library's path and handle, or why it failed).
_built: dict[tuple[str, str, str], tuple[tuple[str, ctypes.CDLL] | None, str | None]] = {}
_lock = threading.Lock()


class NativeBuildError(RuntimeError):
    """The compiler refused the C (its own words follow)."""


#: What a build can fail with: the compiler's refusal, or the cache it writes to.
BUILD_ERRORS = (NativeBuildError, OSError, subprocess.SubprocessError)


def enabled() -> bool:
    """False when SKYKERNEL_NATIVE says 0 (or no/off/false): every state uses the Lua."""
    return os.environ.get(ENABLE_ENV, "1").strip().lower() not in ("0", "no", "off", "false")


def compiler() -> str | None:
    """The C compiler to build with ($CC, else cc), or None if there is none."""
    return shutil.which(os.environ.get("CC") or "cc")


def cache_dir() -> Path:
    given = os.environ.get(DIR_ENV)
    if given:
        return Path(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "skykernel"


def _key(ext: str, cc: str) -> str:
    h = hashlib.sha256()
    for name in (*SOURCES, *HEADERS):
        h.update((HERE / name).read_bytes())
    st = os.stat(ext)
    h.update(f"{ext}\0{st.st_size}\0{st.st_mtime_ns}\0{cc}\0{' '.join(CFLAGS)}".encode())
    return h.hexdigest()[:16]


def build(version: str) -> str:
    """Compile the C for `version` unless a current build is cached; its path.

    Raises NativeBuildError if there is no compiler or it fails. Safe to run from
    several processes at once: each compiles to its own file and renames it into place.
    """
    cc = compiler()
    if cc is None:
        raise NativeBuildError("no C compiler (cc, or $CC) on PATH")
    ext = luastate.extension_file(version)
    target = cache_dir() / f"native-{version}-{_key(ext, cc)}.so"
    if target.is_file():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    try:
        cmd = [cc, *CFLAGS, "-o", tmp, *(str(HERE / s) for s in SOURCES), ext]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise NativeBuildError(f"{' '.join(cmd)}\n{done.stderr.strip()}")
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return str(target)


def _outcome(version: str) -> tuple[tuple[str, ctypes.CDLL] | None, str | None]:
    """((path, handle), None) or (None, why the build failed) for `version` with the
    compiler and cache asked for now; (None, None) where no build is attempted. Built at
    most once per process, compiler and cache, so both answers come from that one try."""
    if not enabled():
        return None, None
    cc = compiler()
    if cc is None:
        return None, None
    key = (version, cc, str(cache_dir()))
    with _lock:
        if key not in _built:
            try:
                # Held open for the life of the process: each state's package.loadlib
                # then only counts a reference (about 1 us), where otherwise the last
                # state to close unloads it and the next one maps it again (30 us).
                # The socket server calls its direct-write half through this handle.
                path = build(version)
                _built[key] = ((path, ctypes.CDLL(path)), None)
            except BUILD_ERRORS as e:
                _built[key] = (None, str(e))
        return _built[key]


def library(version: str) -> str | None:
    """The path of the C for `version`, built if need be; None where the Lua and Python
    serve (disabled, no compiler, or a build that failed: see `failure`)."""
    built = _outcome(version)[0]
    return None if built is None else built[0]


def handle(version: str) -> ctypes.CDLL | None:
    """The C for `version`, loaded (for ctypes calls), or None as for `library`."""
    built = _outcome(version)[0]
    return None if built is None else built[1]


def failure(version: str) -> str | None:
    """Why the C could not be built for `version` (None: it was, or was not tried)."""
    return _outcome(version)[1]


def main() -> int:
    """`python -m skykernel.node.native`: build for every Lua version now (make setup)."""
    status = 0
    for version in luastate.VERSIONS:
        try:
            print(f"skykernel: C for Lua {version}: {build(version)}")
        except BUILD_ERRORS as e:
            print(f"skykernel: no C for Lua {version} (pack in Lua, writes in Python): {e}")
            status = 0 if compiler() is None else 1
    return status


__all__ = ["ENABLE_ENV", "SERI_OPEN", "NativeBuildError", "build", "cache_dir", "compiler",
           "enabled", "failure", "handle", "library"]
