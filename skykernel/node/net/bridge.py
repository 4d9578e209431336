"""The node command `SOCKET op ...`: what `skynet.socketdriver` asks of the socket server.

A request that fails at once answers (nil, message) and the Lua side raises the message,
so a service sees a plain string error, as with skynet's C driver.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

from .. import seri
from ..command import command as node_command
from .server import NetError, SocketServer, server, unpack_udp_address

if TYPE_CHECKING:
    from ..node import Node
    from ..service import LuaService


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _port(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise NetError(f"invalid port {_text(value)!r}") from None


def _listen(net: SocketServer, svc: LuaService, host: Any, port: Any = None,
            backlog: Any = None) -> Any:
    return net.listen(svc.handle, _text(host), _port(port), int(backlog) if backlog else None)


def _connect(net: SocketServer, svc: LuaService, host: Any, port: Any = None) -> Any:
    return net.connect(svc.handle, _text(host), _port(port))


def _sender(net: SocketServer, svc: LuaService) -> Any:
    """The write itself, which skynet.socketdriver calls directly (core.direct), as a
    write is on the path of every packet (it can only be called from Lua: luastate.py);
    and where the node has its C, the key of the server's table there and the library
    that holds the C's half of the write."""
    if net.direct is None:
        return net.send
    return net.send, net.direct.key, net.node.native_library


def _lsend(net: SocketServer, svc: LuaService, sid: int, data: bytes) -> bool:
    return net.send(int(sid), data, low=True)


def _close(net: SocketServer, svc: LuaService, sid: int) -> None:
    net.close(svc.handle, int(sid))


def _shutdown(net: SocketServer, svc: LuaService, sid: int) -> None:
    net.close(svc.handle, int(sid), force=True)


def _start(net: SocketServer, svc: LuaService, sid: int) -> None:
    net.start(svc.handle, int(sid))


def _pause(net: SocketServer, svc: LuaService, sid: int) -> None:
    net.pause(int(sid))


def _nodelay(net: SocketServer, svc: LuaService, sid: int) -> None:
    net.nodelay(int(sid))


def _udp(net: SocketServer, svc: LuaService, host: Any = None, port: Any = None) -> Any:
    return net.udp_open(svc.handle, _text(host) or None, _port(port))


def _udp_listen(net: SocketServer, svc: LuaService, host: Any, port: Any = None) -> Any:
    # skynet's udp_listen refuses what its socket.udp allows: no host, and port 0
    if host is None:
        raise NetError("bad argument #1 to 'udp_listen' (string expected, got nil)")
    h, p = _host_port(host, port)
    if p == 0:
        raise NetError("udp listen host failed: port 0 (udp_listen needs a port of its "
                       "own, as in skynet; socket.udp takes any free one)")
    return net.udp_open(svc.handle, h, p)


def _udp_dial(net: SocketServer, svc: LuaService, host: Any, port: Any = None) -> Any:
    h, p = _host_port(host, port)
    return net.udp_open(svc.handle, None, None, connect=(h, p))


def _udp_connect(net: SocketServer, svc: LuaService, sid: int, host: Any,
                 port: Any = None) -> Any:
    h, p = _host_port(host, port)
    net.udp_connect(int(sid), h, p)
    return True


def _udp_send(net: SocketServer, svc: LuaService, sid: int, address: bytes,
              data: bytes) -> bool:
    return net.udp_send(int(sid), address, data)


def _udp_address(net: SocketServer, svc: LuaService, address: bytes) -> Any:
    _, (ip, port) = unpack_udp_address(address)
    return ip.encode(), port


def _host_port(host: Any, port: Any) -> tuple[str, int]:
    from .server import split_address

    return split_address(_text(host), _port(port))


def _resolve(net: SocketServer, svc: LuaService, host: Any) -> Any:
    try:
        infos = socket.getaddrinfo(_text(host), None)
    except OSError as e:
        raise NetError(e.strerror or str(e)) from None
    return tuple(info[4][0].encode() for info in infos)


def _info(net: SocketServer, svc: LuaService) -> bytes:
    return seri.pack(net.info())


_OPS = {
    b"listen": _listen, b"connect": _connect, b"sender": _sender, b"lsend": _lsend,
    b"close": _close, b"shutdown": _shutdown, b"start": _start, b"pause": _pause,
    b"nodelay": _nodelay, b"udp": _udp, b"udp_listen": _udp_listen, b"udp_dial": _udp_dial,
    b"udp_connect": _udp_connect, b"udp_send": _udp_send, b"udp_address": _udp_address,
    b"resolve": _resolve, b"info": _info,
}


@node_command("SOCKET")
def command(node: Node, svc: LuaService, op: bytes, *args: Any) -> Any:
    handler = _OPS.get(op)
    if handler is None:
        return None, f"unknown socket request {_text(op)}".encode()
    if op == b"info" and node.net is None:
        return seri.pack([])  # no socket yet: no need to start the socket thread
    try:
        return handler(server(node), svc, *args)
    except NetError as e:
        return None, str(e).encode()
    except (TypeError, ValueError, OverflowError) as e:
        return None, f"socket {_text(op)}: {e}".encode()

