"""skynet's config loader (the ``load_config`` chunk of ``skynet_main.c``), in Python.

A skynet config file is a Lua chunk of ``key = value`` lines.  skynet reads it by

1. replacing every ``$NAME`` in the raw text with the environment variable NAME
   (before Lua ever sees the text, so it works inside strings and in code alike),
2. running the text as a Lua chunk whose global environment is a plain table, with
   ``include "file"`` available to pull further files into the same table,
3. copying every resulting key into its string-only env (``skynet.getenv``):
   numbers become their Lua ``tostring`` text, booleans ``true``/``false``.

We do the same, in a throwaway Lua state, and turn every failure into a
:class:`ConfigError` whose message names the file, the line or the key at fault,
because a node that cannot start should say precisely why.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from .luastate import (
    VERSIONS,
    LuaError,
    LuaVersionError,
    check_version,
    default_version,
    lua_type,
    new_state,
)

__all__ = [
    "C_ONLY_KEYS",
    "DEFAULT_LUASERVICE",
    "DEFAULT_LUA_PATH",
    "DEFAULT_PATH",
    "Config",
    "ConfigError",
    "default_config",
    "load_config",
]

#: ``path`` of a config that was not read from a file (see :func:`default_config`).
DEFAULT_PATH = "<default>"

#: Keys that only steer the C runtime (C modules, the C-side Lua loader, the
#: bootstrap command line).  They are kept in ``values`` but reported as ignored.
C_ONLY_KEYS = ("bootstrap", "cpath", "lua_cpath", "lualoader")

#: skynet's ``LUA_SERVICE`` default (service_snlua / loader.lua).
DEFAULT_LUASERVICE = ("./service/?.lua",)
#: skynet's ``LUA_PATH`` default (loader.lua).
DEFAULT_LUA_PATH = ("./lualib/?.lua", "./lualib/?/init.lua")

# What skynet_main.c's optint/optstring/optboolean write back into the env when a
# key is missing, so that skynet.getenv sees them even if the config omits them.
_C_ENV_DEFAULTS = {
    "thread": "8",
    "harbor": "1",
    "profile": "true",
    "bootstrap": "snlua bootstrap",
    "logservice": "logger",
    "cpath": "./cservice/?.so",
}

# skynet's pattern is "%$([%w_%d]+)"; %w in the C locale is ASCII alphanumerics.
_ENV_REF = re.compile(rb"\$([A-Za-z0-9_]+)")
_ASSIGNED_KEY = re.compile(rb"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")
# Chunks are named "=<n>" so Lua never truncates a long path in its messages
# (LUA_IDSIZE is 60); "<n>:" is rewritten back to the file name afterwards.
_CHUNK_REF = re.compile(r"<(\d+)>:")
_MAX_INCLUDE_DEPTH = 64

# The loader, after skynet_main.c: ``result`` collects the globals, ``include``
# is only visible through the metatable while loading and is gone afterwards.
_LOADER = b"""
local read, fail = ...
local result = {}
local active, depth = {}, 0

local function run(name, from_chunk, from_line)
    local code, chunkname, key, shown = read(name, from_chunk, from_line)
    if active[key] then
        fail(shown .. " includes itself", from_chunk, from_line)
    end
    if depth >= %d then
        fail("include nesting is deeper than %d files", from_chunk, from_line)
    end
    local f, err = load(code, chunkname, "t", result)
    if not f then
        fail("syntax error: " .. err)
    end
    active[key], depth = true, depth + 1
    f()
    active[key], depth = nil, depth - 1
end

local function include(name)
    local info = debug.getinfo(2, "Sl")
    if type(name) ~= "string" then
        fail("include expects a file name string, got " .. type(name),
             info.source, info.currentline)
    end
    run(name, info.source, info.currentline)
end

return function(path)
    setmetatable(result, { __index = { include = include } })
    run(path)
    setmetatable(result, nil)
    return result
end
""" % (_MAX_INCLUDE_DEPTH, _MAX_INCLUDE_DEPTH)


class ConfigError(Exception):
    """A config file that skynet would refuse; the message names file, line or key."""


def _split_paths(value: str | None, default: tuple[str, ...]) -> list[str]:
    """Split a ``;`` separated search path the way skynet's loader iterates it.

    skynet walks ``[^;]+``, so empty entries (``a;;b``, a trailing ``;``) are skipped.
    """
    if value is None:
        return list(default)
    return [part for part in value.split(";") if part]


def _c_int(key: str, value: str | None, default: int) -> int:
    """Read an integer key like skynet's ``optint`` (strtol), but refuse garbage.

    ``8.0`` is accepted because ``thread = 8.0`` in Lua produces that text.
    """
    if value is None:
        return default
    text = value.strip()
    try:
        return int(text, 10)
    except ValueError:
        pass
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and number.is_integer():
        return int(number)
    raise ConfigError(f'config key "{key}" must be an integer, got {value!r}')


@dataclass
class Config:
    """A loaded config: the string env skynet would hold, plus typed accessors.

    ``values`` holds exactly the keys the config file set (unknown keys included,
    services read them with ``skynet.getenv``); the accessors supply skynet's
    defaults for the keys the node itself needs.
    """

    values: dict[str, str]
    path: str
    ignored: list[str] = field(default_factory=list)
    #: The Lua version when the file does not say (see :func:`load_config`).
    default_lua: str = field(default_factory=default_version)

    def get(self, key: str, default: str | None = None) -> str | None:
        """``skynet.getenv`` semantics for keys the file set, with a fallback."""
        return self.values.get(key, default)

    def skynet_env(self) -> dict[str, str]:
        """The env as C skynet would hold it after startup.

        skynet_main.c writes its defaults for thread, harbor, profile, bootstrap,
        logservice and cpath back into the env when they are missing, so
        ``skynet.getenv "harbor"`` is "1" even if the config never said so.
        """
        env = dict(_C_ENV_DEFAULTS)
        env.update(self.values)
        return env

    @property
    def start(self) -> str | None:
        """The first service to launch; skynet's bootstrap defaults it to ``main``.

        A :func:`default_config` without a ``start`` override answers None: the
        in-process node has no start script unless asked for one.
        """
        if self.path == DEFAULT_PATH:
            return self.values.get("start")
        return self.values.get("start", "main")

    @property
    def luaservice(self) -> list[str]:
        """Search patterns for service scripts (``LUA_SERVICE``)."""
        return _split_paths(self.values.get("luaservice"), DEFAULT_LUASERVICE)

    @property
    def lua_path(self) -> list[str]:
        """``package.path`` entries for services (``LUA_PATH``)."""
        return _split_paths(self.values.get("lua_path"), DEFAULT_LUA_PATH)

    @property
    def snax(self) -> list[str]:
        """Search patterns for snax services; the luaservice patterns when unset."""
        value = self.values.get("snax")
        if value is None:
            return self.luaservice
        return _split_paths(value, DEFAULT_LUASERVICE)

    @property
    def preload(self) -> str | None:
        """A script every service runs before its own (``LUA_PRELOAD``)."""
        return self.values.get("preload")

    @property
    def logger(self) -> str | None:
        """The log file path, or None to log to stdout."""
        return self.values.get("logger")

    @property
    def logservice(self) -> str:
        """The service that receives error/log messages (a C module name in skynet)."""
        return self.values.get("logservice", "logger")

    @property
    def thread(self) -> int:
        """Worker thread count; accepted and reported, the node is single threaded."""
        return _c_int("thread", self.values.get("thread"), 8)

    @property
    def harbor(self) -> int:
        """Harbor id; skynet's C default is 1 when the key is unset."""
        return _c_int("harbor", self.values.get("harbor"), 1)

    @property
    def lua(self) -> str:
        """The Lua version of every state the node builds (our key: skynet's Lua is the
        one it was built with, 5.4 for 1.8 and 5.5 for master)."""
        value = self.values.get("lua")
        if value is None:
            return self.default_lua
        if value not in VERSIONS:
            choices = " or ".join(f'"{v}"' for v in VERSIONS)
            raise ConfigError(f'config key "lua" must be {choices}, got {value!r}')
        return value

    def validate(self) -> None:
        """Fail now, naming the key, rather than when the node first reads it."""
        _ = (self.thread, self.harbor, self.lua)


def _ignored(values: Mapping[str, str]) -> list[str]:
    return [key for key in C_ONLY_KEYS if key in values]


def _default_lua(lua: str | None) -> str:
    """The version for a config that does not name one: `lua`, else $SKYKERNEL_LUA, else
    5.4. A bad value is a ConfigError like a bad key."""
    try:
        return default_version() if lua is None else check_version(lua)
    except LuaVersionError as e:
        raise ConfigError(str(e)) from None


def default_config(*, lua: str | None = None, **overrides: str) -> Config:
    """A config with no file behind it, for a node started inside the kernel. `lua` is
    the Lua version unless `overrides` name one (see :func:`load_config`)."""
    values = {key: str(value) for key, value in overrides.items()}
    config = Config(values=values, path=DEFAULT_PATH, ignored=_ignored(values),
                    default_lua=_default_lua(lua))
    config.validate()  # bad overrides fail now
    return config


class _Loader:
    """One config load: file lookup, ``$NAME`` expansion and error naming."""

    def __init__(self, path: str, environ: Mapping[str, str]) -> None:
        self.path = path
        self.environ = environ
        self.files: list[str] = []  # chunk number -> file name as shown in messages

    def where(self, chunk: bytes | None, line: int | None) -> str:
        """``config FILE line N`` for the chunk named "=<n>" (or the top file)."""
        if chunk is None:
            return f"config {self.path}"
        name = self.shown(chunk)
        if line is None or line < 0:
            return f"config {name}"
        return f"config {name} line {line}"

    def shown(self, chunk: bytes) -> str:
        text = chunk.decode("utf-8", "surrogateescape")
        match = re.fullmatch(r"=<(\d+)>", text)
        if match and int(match.group(1)) < len(self.files):
            return self.files[int(match.group(1))]
        return text.lstrip("=@")

    def rename(self, message: str) -> str:
        """Put file names back where Lua printed our short chunk names."""

        def repl(match: re.Match[str]) -> str:
            index = int(match.group(1))
            return (
                f"{self.files[index]}:" if index < len(self.files) else match.group(0)
            )

        return _CHUNK_REF.sub(repl, message)

    def resolve(self, name: str, from_chunk: bytes | None) -> str | None:
        """Find an included file: cwd first (as skynet), then the includer's dir."""
        if os.path.isfile(name):
            return name
        if from_chunk is not None and not os.path.isabs(name):
            base = os.path.dirname(self.shown(from_chunk))
            candidate = os.path.join(base, name)
            if base and os.path.isfile(candidate):
                return candidate
        return None

    def read(
        self, raw_name: bytes, from_chunk: bytes | None, from_line: int | None
    ) -> tuple[bytes, bytes, bytes, bytes]:
        """Called from Lua: return (code, chunkname, identity, shown name)."""
        name = raw_name.decode("utf-8", "surrogateescape")
        found = self.resolve(name, from_chunk)
        if found is None:
            if from_chunk is None:
                raise ConfigError(f"config file not found: {name}")
            raise ConfigError(
                f"{self.where(from_chunk, from_line)}: included file not found: {name}"
            )
        try:
            with open(found, "rb") as handle:
                text = handle.read()
        except OSError as exc:
            raise ConfigError(
                f"config file {found} cannot be read: {exc.strerror}"
            ) from exc
        chunk = len(self.files)
        self.files.append(found)
        code = self.expand(text, found)
        return (
            code,
            f"=<{chunk}>".encode(),
            os.fsencode(os.path.realpath(found)),
            found.encode("utf-8", "surrogateescape"),
        )

    def expand(self, text: bytes, shown: str) -> bytes:
        """Replace ``$NAME`` with the environment variable, as skynet does, or fail."""

        def repl(match: re.Match[bytes]) -> bytes:
            var = match.group(1).decode("ascii")
            value = self.environ.get(var)
            if value is None:
                line = text.count(b"\n", 0, match.start()) + 1
                start = text.rfind(b"\n", 0, match.start()) + 1
                key = _ASSIGNED_KEY.match(text, start)
                where = f' (in key "{key.group(1).decode()}")' if key else ""
                raise ConfigError(
                    f"config {shown} line {line}: environment variable ${var} is not set{where}"
                )
            return value.encode("utf-8", "surrogateescape")

        return _ENV_REF.sub(repl, text)

    def fail(
        self, message: bytes, chunk: bytes | None = None, line: int | None = None
    ) -> None:
        """Called from Lua for errors the loader itself detects."""
        text = self.rename(message.decode("utf-8", "surrogateescape"))
        if chunk is None:
            raise ConfigError(f"config {text}")
        raise ConfigError(f"{self.where(chunk, line)}: {text}")


def load_config(path: str, environ: Mapping[str, str] | None = None, *,
                lua: str | None = None) -> Config:
    """Read a skynet config file the way skynet_main.c does.

    ``environ`` replaces ``os.environ`` for ``$NAME`` expansion (tests, kernels
    that want a controlled environment).  Relative paths, including those given
    to ``include``, are resolved against the current working directory like
    skynet; an include that is not found there is also tried next to the file
    that includes it.

    The key ``lua`` ("5.4" or "5.5") is ours: the Lua version the node runs. A file
    without it gets ``lua`` (a kernel passes its own), else the environment variable
    ``SKYKERNEL_LUA``, else 5.4. The file itself is read by a state of that default;
    its floats are written as the chosen version writes them (5.5 keeps up to 17
    digits where 5.4 rounds to 14), as skynet of that Lua would hold them.
    """
    default_lua = _default_lua(lua)
    loader = _Loader(path, os.environ if environ is None else environ)
    # read() hands Lua several values: tuples unpack
    state = new_state(version=default_lua)
    load = state.execute(_LOADER, loader.read, loader.fail)
    try:
        result = load(path.encode("utf-8", "surrogateescape"))
    except LuaError as exc:
        message = str(exc).split("\nstack traceback:", 1)[0]
        raise ConfigError(f"config error: {loader.rename(message)}") from None

    values: dict[str, str] = {}
    floats: dict[str, float] = {}
    tostring = state.eval("tostring")
    for raw_key, value in result.items():
        if not isinstance(raw_key, bytes):
            raise ConfigError(f"config {path}: key {raw_key!r} is not a string")
        key = raw_key.decode("utf-8", "surrogateescape")
        if isinstance(value, bool):
            values[key] = "true" if value else "false"
        elif isinstance(value, int | float):
            values[key] = tostring(value).decode("ascii")
            if isinstance(value, float):
                floats[key] = value
        elif isinstance(value, bytes):
            values[key] = value.decode("utf-8", "surrogateescape")
        else:
            kind = lua_type(value) or type(value).__name__
            raise ConfigError(
                f'config key "{key}" has a {kind} value; '
                "only strings, numbers and booleans are allowed"
            )

    config = Config(
        values=dict(sorted(values.items())), path=path, ignored=_ignored(values),
        default_lua=default_lua,
    )
    config.validate()  # a bad number or version should fail at load time
    if floats and config.lua != default_lua:
        tostring = new_state(version=config.lua).eval("tostring")
        for key, value in floats.items():
            config.values[key] = tostring(value).decode("ascii")
    return config
