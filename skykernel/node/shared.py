"""Data services share through the node, where skynet shares C memory between them.

skynet's `skynet.stm`, `skynet.sharetable`, `skynet.datasheet` and the remote debugger's
channel hand one service's memory to another as a pointer. Here every service is its own
Lua state and Lua values cannot cross states, so the node holds the bytes (a packed value,
a dumped sheet, a line typed into the debugger) and each service reads its own copy
through a bridge command. What stays the same is what a program sees: who may read what,
when a new version becomes visible, and when the data goes away.

Services run on several worker threads, so every store takes its lock; the bytes are
immutable, so a reader may keep what it was handed after the lock is released.
"""

from __future__ import annotations

import itertools
import threading
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class SharedError(ValueError):
    """A service asked for an object that does not exist or that it may not use."""


class Blobs:
    """Immutable byte strings by id, each dropped by the service that made it
    (sharetable's and datasheet's services keep the reference counts, as in skynet)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._data: dict[int, tuple[int, bytes]] = {}  # id -> (owner handle, bytes)

    def put(self, owner: int, data: bytes) -> int:
        with self._lock:
            key = next(self._ids)
            self._data[key] = (owner, data)
        return key

    def get(self, key: int) -> bytes | None:
        entry = self._data.get(key)  # one dict read: whole under the GIL
        return None if entry is None else entry[1]

    def drop(self, owner: int, key: int) -> bool:
        with self._lock:
            entry = self._data.get(key)
            if entry is None or entry[0] != owner:
                return False
            del self._data[key]
        return True

    def sweep(self, alive: Callable[[int], bool]) -> None:
        """Forget what services that are gone made (nobody can drop it any more)."""
        with self._lock:
            for key in [k for k, (owner, _) in self._data.items() if not alive(owner)]:
                del self._data[key]

    def __len__(self) -> int:
        return len(self._data)


@dataclass
class _Stm:
    data: bytes | None  # None once the writer is gone
    version: int = 1
    writer: int = 0  # the writer's handle; 0 once it let go
    pending: int = 0  # references made by copy, not yet taken by a reader
    readers: dict[int, int] = field(default_factory=dict)  # handle -> references held


class StmStore:
    """skynet.stm: one writer updates a value, readers see the latest version.

    `copy` makes a reference (skynet's stm.copy, a pointer handed to another service),
    `newcopy` is a reader taking it; the object lives while its writer or a reference
    does. Once the writer lets go, readers see no version at all, as in skynet."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._objects: dict[int, _Stm] = {}

    def new(self, writer: int, data: bytes) -> int:
        with self._lock:
            key = next(self._ids)
            self._objects[key] = _Stm(data, writer=writer)
        return key

    def update(self, writer: int, key: int, data: bytes) -> None:
        with self._lock:
            obj = self._objects.get(key)
            if obj is None or obj.writer != writer:
                raise SharedError(f"stm object {key} is not written by this service")
            obj.data = data
            obj.version += 1

    def copy(self, writer: int, key: int) -> int:
        with self._lock:
            obj = self._objects.get(key)
            if obj is None or obj.writer != writer:
                raise SharedError(f"stm object {key} is not written by this service")
            obj.pending += 1
        return key

    def newcopy(self, reader: int, key: int) -> bool:
        """A reader takes a reference copy made; False if there is no such object."""
        with self._lock:
            obj = self._objects.get(key)
            if obj is None:
                return False
            if obj.pending > 0:
                obj.pending -= 1
            obj.readers[reader] = obj.readers.get(reader, 0) + 1
        return True

    def read(self, key: int, version: int) -> tuple[int, bytes] | None:
        """(version, bytes) if not `version`; None if it is, or if the writer is gone."""
        with self._lock:
            obj = self._objects.get(key)
            if obj is None or obj.data is None or obj.version == version:
                return None
            return obj.version, obj.data

    def release_writer(self, writer: int, key: int) -> None:
        with self._lock:
            obj = self._objects.get(key)
            if obj is None or obj.writer != writer:
                return
            obj.writer = 0
            obj.data = None
            self._free_if_unused(key, obj)

    def release_reader(self, reader: int, key: int) -> None:
        with self._lock:
            obj = self._objects.get(key)
            if obj is None or reader not in obj.readers:
                return
            obj.readers[reader] -= 1
            if obj.readers[reader] <= 0:
                del obj.readers[reader]
            self._free_if_unused(key, obj)

    def _free_if_unused(self, key: int, obj: _Stm) -> None:
        if obj.writer == 0 and not obj.readers:
            # references nobody took can only ever read nothing now
            del self._objects[key]

    def sweep(self, alive: Callable[[int], bool]) -> None:
        """Drop what services that are gone held (a killed service runs no finalizer)."""
        with self._lock:
            for key, obj in list(self._objects.items()):
                if obj.writer and not alive(obj.writer):
                    obj.writer = 0
                    obj.data = None
                for holder in [h for h in obj.readers if not alive(h)]:
                    del obj.readers[holder]
                self._free_if_unused(key, obj)

    def __len__(self) -> int:
        return len(self._objects)


@dataclass
class _Channel:
    lines: deque[bytes] = field(default_factory=deque)  # typed, not read yet
    output: list[bytes] = field(default_factory=list)  # printed, not taken yet
    asked: bool = False  # the reader found nothing to read since the last write


class DebugChannels:
    """The remote debugger's channel: lines typed at a console go to the service being
    debugged, which reads them one at a time without blocking (skynet's debugchannel),
    and what it prints comes back. `take` also says whether the service has read every
    line and asked for more since: the console's sign that a command is done."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._channels: dict[int, _Channel] = {}

    def create(self) -> int:
        with self._lock:
            key = next(self._ids)
            self._channels[key] = _Channel()
        return key

    def write(self, key: int, line: bytes) -> bool:
        with self._lock:
            ch = self._channels.get(key)
            if ch is None:
                return False
            ch.lines.append(line)
            ch.asked = False
        return True

    def read(self, key: int) -> bytes | None:
        with self._lock:
            ch = self._channels.get(key)
            if ch is None:
                return None
            if not ch.lines:
                ch.asked = True
                return None
            return ch.lines.popleft()

    def output(self, key: int, text: bytes) -> bool:
        with self._lock:
            ch = self._channels.get(key)
            if ch is None:
                return False
            ch.output.append(text)
        return True

    def take(self, key: int) -> tuple[bytes, bool]:
        """(what was printed since the last take, whether the reader is waiting)."""
        with self._lock:
            ch = self._channels.get(key)
            if ch is None:
                return b"", True
            text = b"".join(ch.output)
            ch.output.clear()
            return text, ch.asked and not ch.lines

    def exists(self, key: int) -> bool:
        return key in self._channels

    def release(self, key: int) -> None:
        with self._lock:
            self._channels.pop(key, None)


class Shared:
    """Everything a node holds for its services to share, and its bridge commands."""

    #: Sweep references held by dead services once per this many new objects.
    SWEEP_EVERY = 64

    def __init__(self, alive: Callable[[int], bool]) -> None:
        self.alive = alive
        self.blobs = Blobs()
        self.stm = StmStore()
        self.channels = DebugChannels()
        self._made = 0

    def _maybe_sweep(self) -> None:
        self._made += 1
        if self._made % self.SWEEP_EVERY == 0:
            self.blobs.sweep(self.alive)
            self.stm.sweep(self.alive)

    def stm_command(self, handle: int, op: str, *args: Any) -> Any:
        """`STM op ...` from skynet.stm."""
        store = self.stm
        if op == "new":
            self._maybe_sweep()
            return store.new(handle, _as_bytes(args[0]))
        if op == "update":
            return store.update(handle, int(args[0]), _as_bytes(args[1]))
        if op == "copy":
            return store.copy(handle, int(args[0]))
        if op == "newcopy":
            return store.newcopy(handle, int(args[0]))
        if op == "read":
            got = store.read(int(args[0]), int(args[1]))
            return (None, None) if got is None else got
        if op == "release":
            return store.release_writer(handle, int(args[0]))
        if op == "unref":
            return store.release_reader(handle, int(args[0]))
        raise SharedError(f"unknown STM op {op}")

    def blob_command(self, handle: int, op: str, *args: Any) -> Any:
        """`SHARED op ...`: sharetable's and datasheet's versions, by id."""
        if op == "put":
            self._maybe_sweep()
            return self.blobs.put(handle, _as_bytes(args[0]))
        if op == "get":
            return self.blobs.get(int(args[0]))
        if op == "drop":
            return self.blobs.drop(handle, int(args[0]))
        raise SharedError(f"unknown SHARED op {op}")

    def channel_command(self, handle: int, op: str, *args: Any) -> Any:
        """`DEBUGCHANNEL op ...` for skynet.debugchannel."""
        channels = self.channels
        if op == "create":
            return channels.create()
        if op == "write":
            return channels.write(int(args[0]), _as_bytes(args[1]))
        if op == "read":
            return channels.read(int(args[0]))
        if op == "output":
            return channels.output(int(args[0]), _as_bytes(args[1]))
        if op == "take":
            return channels.take(int(args[0]))
        if op == "exists":
            return channels.exists(int(args[0]))
        if op == "release":
            return channels.release(int(args[0]))
        raise SharedError(f"unknown DEBUGCHANNEL op {op}")


_made = threading.Lock()


def of(node: Any) -> Shared:
    """The node's shared data (`node.shared`), made on first use: most nodes never need
    it. Two workers may ask at once, so it is made under a lock."""
    held = node.shared
    if held is None:
        with _made:
            held = node.shared
            if held is None:
                ref = weakref.ref(node)  # the store must not keep its node alive

                def alive(handle: int) -> bool:
                    n = ref()
                    svc = n.handles.services.get(handle) if n is not None else None
                    return svc is not None and not svc.dead

                held = node.shared = Shared(alive)
    return held


def _as_bytes(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    raise SharedError(f"bytes expected, got {type(value).__name__}")


__all__ = ["Blobs", "DebugChannels", "Shared", "SharedError", "StmStore", "of"]
