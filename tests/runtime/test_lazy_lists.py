"""The lists that drive first-use loading stay true to the code they name.

- `LAZY` in runtime/lualib/skynet.lua: each key is defined by the module it names, by no
  other module, and not by skynet.lua itself (or the lazy load would never happen).
- `WANTED` in runtime/lualib/skynet/private.lua: each name is a local of skynet.lua that
  its functions hold, so the lazily loaded modules find it.
- `COMMANDS` in skykernel/node/command.py (with the service's own commands): every command
  the runtime's Lua sends over the bridge has a handler, and every handler is sent.
"""

from __future__ import annotations

import re
from pathlib import Path

from conftest import Tree

from skykernel.node.command import COMMANDS
from skykernel.node.service import _OWN_COMMANDS

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"
SKYNET_LUA = RUNTIME / "lualib" / "skynet.lua"
PRIVATE_LUA = RUNTIME / "lualib" / "skynet" / "private.lua"


def lazy_table() -> dict[str, list[str]]:
    """module -> keys, read from skynet.lua's LAZY string ("module:key,key ...")."""
    text = SKYNET_LUA.read_text()
    body = re.search(r"local LAZY = \[\[(.*?)\]\]", text, re.S)
    assert body, "LAZY not found in skynet.lua"
    table: dict[str, list[str]] = {}
    for group in body.group(1).split():
        module, _, keys = group.partition(":")
        assert module and keys, f"malformed LAZY group {group!r}"
        assert module not in table, f"module {module} listed twice in LAZY"
        table[module] = keys.split(",")
    return table


def wanted_names() -> list[str]:
    text = PRIVATE_LUA.read_text()
    body = re.search(r"for name in \(\[\[(.*?)\]\]\)", text, re.S)
    assert body, "WANTED list not found in skynet/private.lua"
    return body.group(1).split()


def test_lazy_lists_parse_and_keys_are_unique() -> None:
    table = lazy_table()
    keys = [k for ks in table.values() for k in ks]
    assert len(keys) == len(set(keys)), "a key is listed under two modules"
    for module in table:
        assert (RUNTIME / "lualib" / "skynet" / f"{module}.lua").is_file(), module
    assert len(wanted_names()) == len(set(wanted_names()))


# A service checks, in its own state, what each list claims.
CHECK = r"""
local skynet = require "skynet"
local LAZY = { %s }
local WANTED = { %s }

local function out(...) skynet.error("CHECK", ...) end

skynet.start(function()
	-- no LAZY key is there before its first use
	for module, keys in pairs(LAZY) do
		for _, key in ipairs(keys) do
			if rawget(skynet, key) ~= nil then
				out("defined by skynet.lua itself:", key)
			end
		end
	end
	-- each module defines exactly its keys (installed into a fresh table)
	local internal = require "skynet.private"
	for module, keys in pairs(LAZY) do
		local fresh = setmetatable({}, { __index = skynet })
		require("skynet." .. module)(fresh, internal)
		local want = {}
		for _, key in ipairs(keys) do
			want[key] = true
			if type(rawget(fresh, key)) ~= "function" then
				out(module, "does not define", key)
			end
		end
		for key in pairs(fresh) do
			if not want[key] then
				out(module, "defines", key, "which LAZY does not list under it")
			end
		end
	end
	-- a first use loads the module that defines the key
	for module, keys in pairs(LAZY) do
		for _, key in ipairs(keys) do
			if type(skynet[key]) ~= "function" then
				out("first use of", key, "found no function")
			end
		end
	end
	-- every WANTED name is a local of skynet.lua its functions hold
	for _, name in ipairs(WANTED) do
		local ok, err = pcall(function() return internal[name] end)
		if not ok then
			out("WANTED", name, tostring(err))
		end
	end
	out("done")
	skynet.error("END")
end)
"""


def lua_list(items: list[str]) -> str:
    return ", ".join(f'"{i}"' for i in items)


def test_lazy_keys_and_wanted_locals_hold_in_a_service(tree: Tree) -> None:
    table = lazy_table()
    lazy = ", ".join(f"{m} = {{ {lua_list(ks)} }}" for m, ks in table.items())
    tree.write({"service/main.lua": CHECK % (lazy, lua_list(wanted_names()))})
    checks = [ln for ln in tree.run() if ln.startswith("CHECK")]
    assert checks == ["CHECK done"]


def test_a_lazy_key_a_service_set_itself_is_kept(tree: Tree) -> None:
    tree.write({"service/main.lua": """
local skynet = require "skynet"
function skynet.getenv(key) return "mine " .. key end
skynet.start(function()
    skynet.setenv("x", "1") -- loads env.lua, which must leave getenv alone
    skynet.error("getenv", skynet.getenv("x"))
    skynet.error("END")
end)
"""})
    assert "getenv mine x" in tree.run()


def sent_commands() -> set[str]:
    """Every bridge command the runtime's Lua names (command/py_command("NAME", ...))."""
    pattern = re.compile(r'(?:command|py_command)\s*[(,]?\s*"([A-Z_]+)"')
    names: set[str] = set()
    for path in RUNTIME.rglob("*.lua"):
        names.update(pattern.findall(path.read_text()))
    return names


def test_every_command_lua_sends_has_a_handler_and_every_handler_is_sent() -> None:
    sent = sent_commands()
    handled = {k.decode() for k in COMMANDS} | {k.decode() for k in _OWN_COMMANDS}
    assert sent - handled == set(), "commands Lua sends that the node does not handle"
    assert handled - sent == set(), "handlers no Lua sends"


def test_an_unknown_command_is_a_clear_error(tree: Tree) -> None:
    tree.write({"service/main.lua": """
local skynet = require "skynet"
local c = require "skynet.core"
skynet.start(function()
    skynet.error("unknown", pcall(c.command, "NO_SUCH_COMMAND"))
    skynet.error("bad op", pcall(c.command, "STM", "nope"))
    skynet.error("END")
end)
"""})
    lines = tree.run()
    assert any(ln.startswith("unknown false") and "unknown node command NO_SUCH_COMMAND" in ln
               for ln in lines)
    assert any(ln.startswith("bad op false") and "unknown STM op nope" in ln for ln in lines)
