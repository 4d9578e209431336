"""The socket server's half of the direct write (node/native/directwrite.c).

A service's `socket.write` runs in C, with no Python and no GIL, when the socket is
connected and nothing is queued on it; the C's comment gives the rules the two halves
keep. This is the socket server's handle on its table of slots: it attaches a socket
when it has a descriptor, opens the slot while its queues are empty and the socket is
writable, shuts it otherwise, takes back what a direct write left over, and detaches it
before the descriptor closes. Every call is made with the socket's `wlock` held, except
attach (the socket is not yet known to any writer).
"""

from __future__ import annotations

import ctypes
import errno
import os

from .. import native

#: sk_direct_write's answer while a rest is held (directwrite.c's HELD_FIRST).
_HELD_FIRST = -1000000

_c_key = ctypes.c_longlong
_c_sid = ctypes.c_int


def _bind(lib: ctypes.CDLL) -> None:
    """Declare the C signatures once per library (ctypes otherwise guesses int)."""
    if getattr(lib, "_skykernel_direct", False):
        return
    sigs = {
        "sk_direct_new": ([], ctypes.c_longlong),
        "sk_direct_free": ([_c_key], None),
        "sk_direct_attach": ([_c_key, _c_sid, ctypes.c_int], ctypes.c_int),
        "sk_direct_detach": ([_c_key, _c_sid], None),
        "sk_direct_open": ([_c_key, _c_sid], ctypes.c_int),
        "sk_direct_shut": ([_c_key, _c_sid], None),
        "sk_direct_write": ([_c_key, _c_sid, ctypes.c_char_p, ctypes.c_size_t],
                            ctypes.c_longlong),
        "sk_direct_take": ([_c_key, _c_sid, ctypes.c_char_p, ctypes.c_size_t],
                           ctypes.c_longlong),
        "sk_direct_held": ([_c_key, _c_sid], ctypes.c_longlong),
        "sk_direct_written": ([_c_key, _c_sid, ctypes.POINTER(ctypes.c_double)],
                              ctypes.c_ulonglong),
    }
    for name, (args, res) in sigs.items():
        fn = getattr(lib, name)
        fn.argtypes = args
        fn.restype = res
    lib._skykernel_direct = True


class DirectWrite:
    """One socket server's table of slots in the C (its `key` goes to every service's
    socket write)."""

    def __init__(self, lib: ctypes.CDLL, key: int) -> None:
        self._lib = lib
        self.key = key

    @classmethod
    def new(cls, version: str) -> DirectWrite | None:
        """A table for a node of Lua `version`; None where there is no C (every write
        then goes through the socket server) or no table is left."""
        lib = native.handle(version)
        if lib is None:
            return None
        _bind(lib)
        key = lib.sk_direct_new()
        return None if key < 0 else cls(lib, key)

    def free(self) -> None:
        self._lib.sk_direct_free(self.key)

    def attach(self, sid: int, fd: int) -> bool:
        return self._lib.sk_direct_attach(self.key, sid, fd) == 0

    def detach(self, sid: int) -> None:
        self._lib.sk_direct_detach(self.key, sid)

    def open(self, sid: int) -> bool:
        """Direct writes may go (the caller's queues are empty); False while the C
        holds something the caller must take first."""
        return self._lib.sk_direct_open(self.key, sid) == 1

    def shut(self, sid: int) -> None:
        self._lib.sk_direct_shut(self.key, sid)

    def write(self, sid: int, data: bytes) -> int | None:
        """Write with nothing queued before (and the socket writable): the bytes the
        kernel took (the slot opens if all, else shuts); None, writing nothing, if a
        rest is held (`take` it first); OSError for a failure other than a full buffer."""
        n = self._lib.sk_direct_write(self.key, sid, bytes(data), len(data))
        if n == _HELD_FIRST:
            return None
        if n < 0:
            raise OSError(-n, os.strerror(-n))
        return n

    def take(self, sid: int) -> bytes:
        """What a direct write left over (b"" if nothing); OSError for what the C
        could not keep (the write has then failed)."""
        buf = ctypes.create_string_buffer(256)
        n = self._lib.sk_direct_take(self.key, sid, buf, 256)
        if n == -1:
            size = self._lib.sk_direct_held(self.key, sid)
            buf = ctypes.create_string_buffer(size)
            n = self._lib.sk_direct_take(self.key, sid, buf, size)
        if n < 0:
            code = -n if n != -1 else errno.ENOMEM
            raise OSError(code, os.strerror(code))
        return buf.raw[:n]

    def written(self, sid: int) -> tuple[int, float]:
        """(bytes written directly, when last on the monotonic clock; 0.0: never)."""
        when = ctypes.c_double()
        n = self._lib.sk_direct_written(self.key, sid, ctypes.byref(when))
        return n, when.value
