"""skynet's lua-seri wire format (skynet.pack / skynet.unpack) in Python.

The node reads and writes service messages in the same bytes as the Lua side
(runtime/lualib/skynet/seri.lua) and real skynet, so nothing is converted at the
boundary. Each value starts with a byte ``type | cookie << 3``; numbers are
little-endian.

Mapping: None <-> nil, bool, int (int64), float, bytes <-> string (str packs as
UTF-8; strings always unpack as bytes), list/tuple/dict -> table (a dict's keys
1..n become the array part). A table with only an array part (including the
empty table) unpacks to a list, any other table to a dict keyed 1..n for its
array part plus its hash pairs, so a dict from Lua packs back to the same bytes.
An integral float key packs as the integer Lua would make of it.

unpack raises ValueError for a broken stream (`Invalid serialize stream (...)`), and for
tables a dict cannot hold: a table as a key, or `true` beside `1` (`false` beside `0`),
which Lua keeps apart and a dict would merge, losing a value.
"""

from __future__ import annotations

import struct
from typing import Any

MAX_DEPTH = 32
"""skynet's limit: a table nested deeper than this may exist but must be empty.

pack fails where skynet's pack fails (`serialize can't pack too depth table`). unpack
applies the same rule (`Invalid serialize stream (too depth table at byte N)`), so
whatever unpacks packs again, and a crafted stream cannot recurse without bound.
"""

_NIL, _BOOL, _NUMBER, _USERDATA, _SHORT, _LONG, _TABLE = range(7)
_I8, _I16, _I32, _I64, _F64 = (struct.Struct(f) for f in ("<B", "<H", "<i", "<q", "<d"))
_U16, _U32 = struct.Struct("<H"), struct.Struct("<I")
_NUMBER_FORMATS = {1: _I8, 2: _I16, 4: _I32, 6: _I64, 8: _F64}


def _pack_int(out: bytearray, v: int) -> None:
    """Write v in the smallest encoding skynet's wb_integer would choose."""
    if v == 0:
        out.append(0x02)
    elif 0 < v < 0x100:
        out += b"\x0a" + _I8.pack(v)
    elif 0 < v < 0x10000:
        out += b"\x12" + _I16.pack(v)
    elif -0x80000000 <= v <= 0x7FFFFFFF:
        out += b"\x22" + _I32.pack(v)
    elif -0x8000000000000000 <= v <= 0x7FFFFFFFFFFFFFFF:
        out += b"\x32" + _I64.pack(v)
    else:
        raise ValueError(f"integer {v} does not fit the int64 a Lua integer holds")


def _pack_str(out: bytearray, s: bytes) -> None:
    n = len(s)
    if n < 32:
        out.append(_SHORT | n << 3)
    elif n < 0x10000:
        out += b"\x15" + _U16.pack(n)
    else:
        out += b"\x25" + _U32.pack(n)
    out += s


def _array_size(d: dict) -> int:
    """Return n for the run of int keys 1..n in d (0 if key 1 is absent).

    Lua gets the same table whether those keys travel as the array part or as hash
    pairs; as the array part, a dict unpacked from Lua packs back to the same bytes.
    """
    ints = {k for k in d if type(k) is int}  # not bool: True == 1 in Python only
    n = 0
    while n + 1 in ints:
        n += 1
    return n


def _lua_key(k: float) -> float | int:
    """The key a Lua table holds for float k: an integral float is that integer (Lua
    normalises it, so it may land in the array part); NaN cannot be a key."""
    if k != k:
        raise ValueError("table index is NaN")
    if k.is_integer() and -(2**63) <= k < 2**63:
        return int(k)
    return k


def _pack_table(out: bytearray, items: list | tuple, pairs: list[tuple], depth: int) -> None:
    if depth > MAX_DEPTH and (items or pairs):
        raise ValueError("serialize can't pack too depth table")
    n = len(items)
    if n < 31:
        out.append(_TABLE | n << 3)
    else:
        out.append(_TABLE | 31 << 3)
        _pack_int(out, n)
    for v in items:
        _pack_one(out, v, depth)
    for k, v in pairs:
        if k is None:
            raise ValueError("nil can't be a table key")
        _pack_one(out, k, depth)
        _pack_one(out, v, depth)
    out.append(_NIL)


def _pack_one(out: bytearray, v: Any, depth: int) -> None:
    if v is None:
        out.append(_NIL)
    elif v is True or v is False:
        out.append(_BOOL | v << 3)
    elif isinstance(v, int):
        _pack_int(out, v)
    elif isinstance(v, float):
        out += b"\x42" + _F64.pack(v)
    elif isinstance(v, (bytes, bytearray, memoryview)):
        _pack_str(out, bytes(v))
    elif isinstance(v, str):
        _pack_str(out, v.encode())
    elif isinstance(v, (list, tuple)):
        _pack_table(out, v, [], depth + 1)
    elif isinstance(v, dict):
        if any(k.__class__ is float for k in v):
            v = {_lua_key(k) if k.__class__ is float else k: x for k, x in v.items()}
        n = _array_size(v)
        items = [v[i] for i in range(1, n + 1)]
        pairs = [(k, x) for k, x in v.items() if not (type(k) is int and 1 <= k <= n)]
        _pack_table(out, items, pairs, depth + 1)
    else:
        raise TypeError(f"Unsupport type {type(v).__name__} to serialize")


def pack(*values: Any) -> bytes:
    """Pack values in sequence, as skynet.pack(...) does."""
    out = bytearray()
    for v in values:
        _pack_one(out, v, 0)
    return bytes(out)


class _Reader:
    """Cursor over one stream; a class keeps the position without closures per value."""

    __slots__ = ("data", "pos")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        p = self.pos
        if n < 0 or p + n > len(self.data):
            raise ValueError(f"Invalid serialize stream (truncated at byte {p + 1})")
        self.pos = p + n
        return self.data[p : p + n]

    def number(self, cookie: int) -> int | float:
        if cookie == 0:
            return 0
        fmt = _NUMBER_FORMATS.get(cookie)
        if fmt is None:
            raise ValueError(f"Invalid serialize stream (bad number cookie {cookie})")
        return fmt.unpack(self.take(fmt.size))[0]

    def value(self, depth: int) -> Any:
        """The next value; depth is how many tables enclose it."""
        h = self.take(1)[0]
        t, c = h & 7, h >> 3
        if t == _SHORT:
            return self.take(c)
        if t == _NUMBER:
            return self.number(c)
        if t == _TABLE:
            return self.table(c, depth + 1)
        if t == _BOOL:
            return c != 0
        if t == _NIL:
            return None
        if t == _LONG and c in (2, 4):
            fmt = _U16 if c == 2 else _U32
            return self.take(fmt.unpack(self.take(fmt.size))[0])
        if t == _USERDATA:  # a C pointer from the packing process: only its address survives
            return _I64.unpack(self.take(8))[0]
        raise ValueError(f"Invalid serialize stream (bad header 0x{h:02x} at byte {self.pos})")

    def table(self, n: int, depth: int) -> list | dict:
        """The table whose header was the last byte read; depth counts it."""
        start = self.pos  # its header's byte, counted from 1
        if n == 31:
            h = self.take(1)[0]
            if h & 7 != _NUMBER or h >> 3 == 8:
                raise ValueError(f"Invalid serialize stream (bad array size at byte {self.pos})")
            n = self.number(h >> 3)
        if depth > MAX_DEPTH and (n > 0 or not self.at_nil()):
            raise ValueError(f"Invalid serialize stream (too depth table at byte {start})")
        items = [self.value(depth) for _ in range(n)]
        if self.at_nil():
            self.pos += 1
            return items
        d: dict = dict(enumerate(items, 1))
        # Lua keeps true/false apart from 1/0; a dict cannot: which kind holds each.
        kinds = {1: False} if items else {}
        while True:
            at = self.pos + 1
            k = self.value(depth)
            if k is None:
                return d
            if k.__class__ is not bytes:
                self.check_key(k, at, kinds)
            try:
                d[k] = self.value(depth)
            except TypeError:
                raise ValueError(f"table key {k!r} has no Python equivalent") from None

    def at_nil(self) -> bool:
        """Whether the next byte is a nil (a table's end), whatever its cookie."""
        p = self.pos
        return p < len(self.data) and self.data[p] & 7 == _NIL

    @staticmethod
    def check_key(k: Any, at: int, kinds: dict[int, bool]) -> None:
        if k != k:
            raise ValueError(f"Invalid serialize stream (table index is NaN at byte {at})")
        is_bool = k.__class__ is bool
        if is_bool or (k.__class__ in (int, float) and (k == 0 or k == 1)):
            if kinds.setdefault(int(k), is_bool) != is_bool:
                raise ValueError(f"table keys {k!r} and {int(k) if is_bool else bool(k)} "
                                 "are one key in Python")


def unpack(data: bytes | bytearray | memoryview) -> tuple:
    """Unpack every value in data, as skynet.unpack(msg, sz) does."""
    r = _Reader(bytes(data))
    out = []
    while r.pos < len(r.data):
        out.append(r.value(0))
    return tuple(out)
