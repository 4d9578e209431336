"""Property tests for the pack format: every unpacker survives any bytes, and values
round-trip through every implementation (Python, and in each Lua version skynet/seri.lua
and the C build), each held to Python's.

The normal run tries 30 to 100 examples per property and Lua version, the same ones
every time (derandomised, so a run never flakes), in a few seconds. `make fuzz`
(SKYKERNEL_FUZZ=long) runs the same properties with thousands of random examples.

Values are compared through `canon`, bytes both languages compute the same way, so a
Lua result is checked without converting Lua tables through lupa.
"""

from __future__ import annotations

import importlib
import math
import os
import struct
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # the package may not be installed into the venv
    sys.path.insert(0, str(ROOT))

from seri_support import IMPLS, open_seri  # noqa: E402

from skykernel.node import seri as pyseri  # noqa: E402

LONG = os.environ.get("SKYKERNEL_FUZZ") == "long"
DEPTH_ERR = "serialize can't pack too depth table"


def fuzz_settings(quick: int, long: int) -> settings:
    """quick examples in the normal run (fixed), long ones under `make fuzz` (random)."""
    return settings(max_examples=long if LONG else quick, derandomize=not LONG,
                    database=None, deadline=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


# --- canonical text of a value, computed the same way in Lua and in Python ------------

CANON_LUA = rb"""
local seri = ...
local format, spack, concat, sort = string.format, string.pack, table.concat, table.sort
local canon
function canon(v)
    local t = type(v)
    if t == "nil" then return "n"
    elseif t == "boolean" then return v and "t" or "f"
    elseif math.type(v) == "integer" then return format("i%d", v)
    elseif t == "number" then return v ~= v and "fnan" or "f" .. spack("<d", v)
    elseif t == "string" then return "s" .. #v .. ":" .. v
    elseif t == "table" then
        local items = {}
        for k, x in next, v do items[#items + 1] = canon(k) .. "=" .. canon(x) end
        sort(items)
        return "{" .. concat(items, ",") .. "}"
    end
    return "?" .. t
end
local function canon_all(...)
    local out = {}
    for i = 1, select("#", ...) do out[i] = canon((select(i, ...))) end
    return concat(out, "|")
end
local api = {}
local env = { math = math, string = string } -- what a constructor from lua_src uses
-- unpack in a protected call: true and the values' canon, or false and the error
function api.unpack(w, sz)
    local r = table.pack(pcall(seri.unpack, w, sz))
    if not r[1] then
        return false, r[2]
    end
    return true, canon_all(table.unpack(r, 2, r.n))
end
-- evaluate a constructor, pack it: true and the bytes, or false and the error
function api.pack(src)
    local ok, v = pcall(load("return " .. src, "=value", "t", env))
    assert(ok, v)
    return pcall(seri.pack, v)
end
-- evaluate, pack, unpack: the canon of what came back
function api.round(src)
    local v = load("return " .. src, "=value", "t", env)()
    return canon_all(seri.unpack(seri.pack(v)))
end
return api
"""


def _key(k: Any) -> Any:
    """The key Lua holds: an integral float in int64 range is an integer."""
    if k.__class__ is float and k.is_integer() and -(2**63) <= k < 2**63:
        return int(k)
    return k


def canon(v: Any) -> bytes:
    """Length-prefixed strings make the text one-to-one; items sort byte-wise in both
    languages (Lua compares strings with strcoll, byte-wise in the C locale)."""
    if v is None:
        return b"n"
    if v is True or v is False:
        return b"t" if v else b"f"
    if isinstance(v, int):
        return b"i%d" % v
    if isinstance(v, float):
        return b"fnan" if v != v else b"f" + struct.pack("<d", v)
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return b"s%d:" % len(v) + bytes(v)
    pairs = enumerate(v, 1) if isinstance(v, (list, tuple)) else v.items()
    # a nil value is no entry in a Lua table: [1, None] is Lua's {1}
    return b"{" + b",".join(sorted(canon(_key(k)) + b"=" + canon(x)
                                   for k, x in pairs if x is not None)) + b"}"


def canon_all(values: tuple) -> bytes:
    return b"|".join(canon(v) for v in values)


def lua_src(v: Any) -> str:
    """A Lua constructor for v that keeps integers and floats apart, byte for byte."""
    if v is None:
        return "nil"
    if v is True or v is False:
        return "true" if v else "false"
    if isinstance(v, int):
        return "math.mininteger" if v == -(2**63) else str(v)
    if isinstance(v, float):
        if math.isnan(v):  # its exact bits: 0/0 in Lua has the sign bit set
            raw = "".join(f"\\{b}" for b in struct.pack("<d", v))
            return f'(string.unpack("<d", "{raw}"))'
        if math.isinf(v):
            return "math.huge" if v > 0 else "-math.huge"
        return f"({v.hex()})"
    if isinstance(v, str):
        v = v.encode()
    if isinstance(v, (bytes, bytearray)):
        return '"' + "".join(f"\\{b}" for b in v) + '"'
    if isinstance(v, (list, tuple)):
        return "{" + ", ".join(lua_src(x) for x in v) + "}"
    return "{" + ", ".join(f"[{lua_src(k)}] = {lua_src(x)}" for k, x in v.items()) + "}"


def item_depth(v: Any) -> int:
    """How deep the deepest table that holds something sits (pack's limit is on this)."""
    if isinstance(v, (list, tuple)):
        return 1 + max(map(item_depth, v)) if v else 0
    if isinstance(v, dict):
        return 1 + max(item_depth(x) for x in (*v.keys(), *v.values())) if v else 0
    return 0


# --- strategies ---------------------------------------------------------------------

INTS = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-300, 70_000),
                 st.sampled_from([0, 1, 255, 256, 65535, 65536, 2**31 - 1, -(2**31), 2**31]))
FLOATS = st.floats(allow_nan=True, allow_infinity=True)
STRINGS = st.one_of(st.binary(max_size=40), st.text(st.characters(codec="utf-8"), max_size=12),
                    st.binary(min_size=31, max_size=300))
SCALARS = st.one_of(st.booleans(), INTS, FLOATS, STRINGS)
KEYS = st.one_of(st.binary(max_size=8), st.integers(-5, 40), INTS,
                 st.floats(allow_nan=False), st.booleans())


def tables(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(children, max_size=6),
                     st.dictionaries(KEYS, children, max_size=6))


VALUES = st.recursive(SCALARS, tables, max_leaves=25)
# Tables Lua and Python pack to the same bytes: arrays and single-key tables.
DET_VALUES = st.recursive(
    SCALARS,
    lambda c: st.one_of(st.lists(c, max_size=6), st.dictionaries(KEYS, c, min_size=1,
                                                                 max_size=1)),
    max_leaves=25)


def nest(v: Any, levels: int, as_dict: bool) -> Any:
    for _ in range(levels):
        v = {b"k": v} if as_dict else [v]
    return v


@st.composite
def within_limit(draw: st.DrawFn, values: st.SearchStrategy = VALUES) -> Any:
    """A value wrapped in single-item tables up to pack's depth limit."""
    v = draw(values)
    room = pyseri.MAX_DEPTH - item_depth(v)
    assume(room >= 0)
    return nest(v, draw(st.integers(0, room)), draw(st.booleans()))


SEEDS = [
    bytes.fromhex("160a010a020c780a0300"),  # {1,2,x=3}
    bytes.fromhex("000901"),
    bytes.fromhex("22ffffffff"),
    bytes.fromhex("fe0a1f") + bytes([0x0a, 1]) * 31 + b"\x00",  # array size extended
    b"\x15\x40\x00" + b"x" * 64,  # long string, u16 length
    b"\x25\x00\x00\x01\x00" + b"y" * 65536,  # long string, u32 length
    b"\x0e" * 32 + b"\x06\x00" + b"\x00" * 32,  # at the depth limit
    b"\x0e" * 33 + b"\x0a\x01" + b"\x00" * 33,  # one over
    b"\x03" + struct.pack("<q", 0x1234),  # a light userdata's address
    b"\x42" + struct.pack("<d", 1.5),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A valid stream (packed from a value, or a seed) after a few edits."""
    if draw(st.booleans()):
        wire = pyseri.pack(*draw(st.lists(within_limit(), min_size=1, max_size=3)))
    else:
        wire = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 4))):
        wire = _mutate(draw, bytearray(wire))
    return bytes(wire)


def _mutate(draw: st.DrawFn, w: bytearray) -> bytes:
    op = draw(st.sampled_from(["truncate", "flip", "byte", "cookie", "type", "insert",
                               "delete", "splice", "duplicate", "length"]))
    i = draw(st.integers(0, max(len(w) - 1, 0)))
    if op == "truncate":
        return bytes(w[:i])
    if op in ("insert", "splice"):
        extra = draw(st.binary(min_size=1, max_size=12)) if op == "insert" else \
            pyseri.pack(draw(VALUES))[draw(st.integers(0, 8)):]
        return bytes(w[:i] + extra + (w[i:] if op == "insert" else b""))
    if not w:
        return bytes(w)
    if op == "flip":
        w[i] ^= draw(st.integers(1, 255))
    elif op == "byte":
        w[i] = draw(st.integers(0, 255))
    elif op == "cookie":  # a header's cookie: lengths, array sizes, number widths
        w[i] = (w[i] & 7) | draw(st.integers(0, 31)) << 3
    elif op == "type":
        w[i] = (w[i] & ~7 & 0xFF) | draw(st.integers(0, 7))
    elif op == "delete":
        del w[i:i + draw(st.integers(1, 8))]
    elif op == "duplicate":
        j = draw(st.integers(i, len(w)))
        w[j:j] = w[i:j]
    elif op == "length":  # an extended length or size: big, zero, negative
        n = draw(st.sampled_from([0, 1, 2**16 - 1, 2**31 - 1, 2**32 - 1, 2**63 - 1]))
        w[i:i + 4] = n.to_bytes(8, "little")[:4]
    return bytes(w)


STREAMS = st.one_of(st.binary(max_size=64), mutated())


# --- Lua states: the module under both Lua versions lupa ships ------------------------

def _lua_modules() -> list[str]:
    names = []
    for name in ("lupa.lua54", "lupa.lua55"):
        try:
            importlib.import_module(name)
        except ImportError:
            continue
        names.append(name)
    return names


@pytest.fixture(scope="module",
                params=[(m, impl) for m in _lua_modules() for impl in IMPLS],
                ids=lambda p: f"{p[0].rsplit('.', 1)[1]}-{p[1]}")
def lua(request: pytest.FixtureRequest) -> Any:
    """Each implementation (skynet/seri.lua, the C build) under each Lua version."""
    name, impl = request.param
    rt = importlib.import_module(name).LuaRuntime(encoding=None, register_eval=False,
                                                  register_builtins=False)
    # canon sorts in both languages: Lua's string order must be byte order (C collation)
    assert rt.eval(b'"B" < "a" and "\\255" > "a" and "a\\0" > "a"')
    seri = open_seri(rt, f"{name[-2]}.{name[-1]}", impl)
    return rt.execute(CANON_LUA, seri)


# Python may refuse what Lua holds: a table as a key, or true beside 1.
PY_ONLY_LIMITS = ("has no Python equivalent", "are one key in Python")
PY_ONLY = tuple(x.encode() for x in PY_ONLY_LIMITS)


def py_unpack(wire: bytes) -> tuple[bool, bytes]:
    """(True, canon) or (False, message); any exception but ValueError fails the test."""
    try:
        values = pyseri.unpack(wire)
    except ValueError as e:
        msg = str(e)
        assert msg.startswith("Invalid serialize stream (") or msg.endswith(PY_ONLY_LIMITS), msg
        return False, msg.encode()
    return True, canon_all(values)


def lua_unpack(lua: Any, wire: bytes) -> tuple[bool, bytes]:
    ok, out = lua.unpack(wire)
    if not ok:
        assert isinstance(out, bytes), f"error object is not a string: {out!r}"
        assert out.startswith(b"Invalid serialize stream ("), out
    return ok, out


# --- properties ---------------------------------------------------------------------

@fuzz_settings(quick=100, long=10_000)
@given(wire=STREAMS)
def test_unpack_any_bytes(lua: Any, wire: bytes) -> None:
    """Any bytes decode or fail with the clean error, and both unpackers agree."""
    py_ok, py_out = py_unpack(wire)
    lua_ok, lua_out = lua_unpack(lua, wire)
    if py_ok and lua_ok:
        assert py_out == lua_out
    elif lua_ok:
        assert py_out.endswith(PY_ONLY), (py_out, lua_out)
    else:
        assert not py_ok, ("Python decoded what Lua refused", py_out, lua_out)
        # the depth error is one message; Python may stop earlier at a key it cannot hold
        if b"too depth table" in py_out + lua_out and not py_out.endswith(PY_ONLY):
            assert py_out == lua_out


@fuzz_settings(quick=40, long=3_000)
@given(wire=mutated(), cut=st.one_of(st.integers(-3, 0), st.integers(1, 100)))
def test_unpack_with_a_size(lua: Any, wire: bytes, cut: int) -> None:
    """skynet.unpack(msg, sz) reads the first sz bytes; sz <= 0 means no values."""
    ok, out = lua.unpack(wire, cut)
    assert (ok, out) == lua_unpack(lua, wire[:max(cut, 0)])


@fuzz_settings(quick=60, long=10_000)
@given(v=within_limit())
def test_round_trip(lua: Any, v: Any) -> None:
    """Within the limit, a value packs and unpacks to itself in both implementations,
    and each unpacks what the other packs."""
    want = canon(v)
    py_wire = pyseri.pack(v)
    assert canon_all(pyseri.unpack(py_wire)) == want
    ok, lua_wire = lua.pack(lua_src(v).encode())
    assert ok, lua_wire
    assert lua.round(lua_src(v).encode()) == want
    assert canon_all(pyseri.unpack(lua_wire)) == want
    assert lua_unpack(lua, py_wire) == (True, want)


@fuzz_settings(quick=60, long=10_000)
@given(v=within_limit(DET_VALUES), more=st.lists(DET_VALUES, max_size=2))
def test_same_bytes(lua: Any, v: Any, more: list) -> None:
    """Arrays, single-key tables and scalars pack to the same bytes in both."""
    assume(all(item_depth(x) <= pyseri.MAX_DEPTH for x in more))
    values = [v, *more]
    lua_wire = b"".join(_lua_pack(lua, x) for x in values)
    assert pyseri.pack(*values) == lua_wire


def _lua_pack(lua: Any, v: Any) -> bytes:
    ok, wire = lua.pack(lua_src(v).encode())
    assert ok, wire
    return wire


@fuzz_settings(quick=30, long=3_000)
@given(v=tables(VALUES).filter(lambda v: 1 <= item_depth(v) <= pyseri.MAX_DEPTH),
       as_dict=st.booleans())
def test_one_level_over_is_refused(lua: Any, v: Any, as_dict: bool) -> None:
    """A table holding something one level past the limit: both packs refuse it with
    skynet's message, and its crafted bytes are refused by both unpackers alike."""
    over = nest(v, pyseri.MAX_DEPTH + 1 - item_depth(v), as_dict)
    with pytest.raises(ValueError, match=f"^{DEPTH_ERR}$"):
        pyseri.pack(over)
    ok, err = lua.pack(lua_src(over).encode())
    assert (ok, err) == (False, DEPTH_ERR.encode())
    # the bytes a pack without the limit would write
    levels = pyseri.MAX_DEPTH + 1 - item_depth(v)
    wire = (b"\x06\x0ck" if as_dict else b"\x0e") * levels + pyseri.pack(v) + b"\x00" * levels
    py_ok, py_err = py_unpack(wire)
    assert not py_ok and b"too depth table" in py_err
    assert lua_unpack(lua, wire) == (False, py_err)
