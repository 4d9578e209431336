"""Addresses and names (skynet_handle): who is alive, and what names point where."""

from __future__ import annotations

import threading
from typing import Any

#: Global (harbor) names are shorter than this, as in skynet.
GLOBALNAME_LENGTH = 16


def format_address(handle: int) -> str:
    return f":{handle:08x}"


def parse_address(text: str) -> int | str:
    """Read `:0000000b`, bare hex `b`, or a name (`.name`, `NAME`), the forms consoles accept.

    Names are returned as strings for the registry to resolve; numbers as handles.
    """
    text = text.strip()
    if text.startswith(":"):
        return int(text[1:], 16)
    if text.startswith("."):
        return text
    try:
        return int(text, 16)
    except ValueError:
        return text


class HandleRegistry:
    """Allocates handles (`harbor << 24 | id`, ids from 1, never reused) and keeps names.

    Worker threads change it while others read it: changes take a lock; a lookup is one
    dict read, which the GIL makes whole."""

    def __init__(self, harbor: int = 0) -> None:
        self.harbor = harbor
        self._next_id = 1
        self._lock = threading.Lock()
        self.services: dict[int, Any] = {}
        self.names: dict[str, int] = {}

    def allocate(self) -> int:
        with self._lock:
            handle = (self.harbor << 24) | self._next_id
            self._next_id += 1
        return handle

    def register(self, handle: int, service: Any) -> None:
        self.services[handle] = service

    def retire(self, handle: int) -> None:
        with self._lock:
            self.services.pop(handle, None)
            for name in [n for n, h in self.names.items() if h == handle]:
                del self.names[name]

    def bind_name(self, name: str, handle: int) -> None:
        """Bind a `.local` or global name; skynet refuses to rebind an existing name."""
        if not name:
            raise ValueError("empty service name")
        if not name.startswith(".") and len(name) >= GLOBALNAME_LENGTH:
            raise ValueError(f"global name {name!r} is too long (max {GLOBALNAME_LENGTH - 1})")
        with self._lock:
            if name in self.names:
                raise ValueError(
                    f"name {name} is already bound to {format_address(self.names[name])}")
            self.names[name] = handle

    def resolve(self, address: int | str) -> int | None:
        if isinstance(address, int):
            return address if address in self.services else None
        if address.startswith(":"):
            handle = int(address[1:], 16)
            return handle if handle in self.services else None
        return self.names.get(address)

    def names_of(self, handle: int) -> list[str]:
        with self._lock:
            return sorted(n for n, h in self.names.items() if h == handle)
