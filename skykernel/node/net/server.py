"""The socket server (skynet's socket_server.c): the node's workers poll every socket
and turn what happens into `socket` protocol messages for their owners.

A socket has an id (skynet's socket id, never the OS fd) and an owner: the service that
opened, listened on or started it. Its events go to the owner as PTYPE_SOCKET messages
(source 0, session 0) whose payload is a 9-byte header, type, id and ud (little-endian
u8, u32, u32), then the data: skynet's `skynet_socket_message` as a string.
`skynet.socketdriver.unpack` reads it back.

Threads. skynet has a socket thread; here the poll is a role that one thread at a time
holds (the scheduler hands it out): an idle worker waits in it, a busy one looks in it
between deliveries, and the monitor does when every worker has been busy a while. A
round (`round`) reads what is ready and hands the messages to the scheduler, so the
worker that waited is the one that runs their owner: a request and its reply cross no
thread. What changes a socket's state (start, pause, close, a connect's outcome) is a
request run by the next round, in order with the socket's reads, so an owner never sees
data after the close it asked for, as in skynet, where every request goes through the
socket thread's pipe. What must answer at once runs on the caller's thread: listen (a
port in use is the caller's error), allocating ids, and writing. A write goes straight
to the kernel when nothing is queued before it (skynet's direct write); otherwise it is
queued and a round sends it when the socket is writable. Where the node has its C
(node/native), a service's direct write does not come here at all: it runs in C
(directwrite.py says how the two halves agree), and only what C cannot finish does.
`lock` guards the socket table and each socket's `wlock` its write queues (never one
inside the other); a round holds neither while it hands messages to the scheduler, and
the scheduler's lock is never held while either is taken.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..proto import PTYPE_SOCKET
from .directwrite import DirectWrite

if TYPE_CHECKING:
    from ..node import Node

# skynet_socket.h: the `type` of a socket message
SOCKET_DATA = 1
SOCKET_CONNECT = 2
SOCKET_CLOSE = 3
SOCKET_ACCEPT = 4
SOCKET_ERROR = 5
SOCKET_UDP = 6
SOCKET_WARNING = 7

HEADER = struct.Struct("<BII")

#: skynet warns when more than this waits to be sent on one socket, then at each doubling.
WARNING_SIZE = 1024 * 1024
#: Sockets open at once (skynet's MAX_SOCKET); more accepts are closed at once. It is
#: also the number of slots in directwrite.c, where a socket id's slot is id % MAX_SOCKET.
MAX_SOCKET = 65536
#: Bytes asked for per read: like skynet, start small and follow the traffic (double
#: when a read fills it, halve when one uses less than half), so that a connection of
#: small packets does not allocate 64 KB per read.
RECV_MIN = 64
RECV_MAX = 65536
#: Connections accepted per readable event, so one flooded listener cannot starve the rest.
ACCEPT_BATCH = 64
#: skynet's default listen backlog.
BACKLOG = 32

# Socket states, skynet's names.
RESERVE = "RESERVE"  # an id handed out for a connect no round has begun
PLISTEN = "PLISTEN"  # listening, not yet started: no accepts
LISTEN = "LISTEN"
CONNECTING = "CONNECTING"
CONNECTED = "CONNECTED"
HALFCLOSE_READ = "HALFCLOSE_READ"  # the peer sent EOF; we may still write
HALFCLOSE_WRITE = "HALFCLOSE_WRITE"  # a write failed; we may still read
PACCEPT = "PACCEPT"  # accepted, not yet started: not read
UDP = "UDP"

_WRITABLE = (CONNECTED, HALFCLOSE_READ, CONNECTING, RESERVE)

monotonic = time.monotonic


READ = 1  # selectors.EVENT_READ
WRITE = 2  # selectors.EVENT_WRITE


class _Poller:
    """epoll where there is one, else a selectors selector. Only the thread holding the
    poll role registers and polls.

    A round is the node's hottest loop: `poll` hands back the poller's own list of
    (descriptor, event bits), with no object made per event, and the round looks the
    descriptor up in `objects`. `readable` is the bits of the usual event, bytes to read
    and nothing else; `mask` turns any other into READ|WRITE."""

    def __init__(self, use_epoll: bool = hasattr(select, "epoll")) -> None:
        #: descriptor -> what was registered for it
        self.objects: dict[int, Any] = {}
        self._epoll = select.epoll() if use_epoll else None
        self._selector = None if self._epoll else selectors.DefaultSelector()
        self.readable = select.EPOLLIN if self._epoll else READ

    @staticmethod
    def _epoll_mask(mask: int) -> int:
        return (select.EPOLLIN if mask & READ else 0) | (select.EPOLLOUT if mask & WRITE else 0)

    def register(self, fd: int, mask: int, obj: Any) -> None:
        self.objects[fd] = obj
        if self._epoll is not None:
            self._epoll.register(fd, self._epoll_mask(mask))
        else:
            self._selector.register(fd, mask)  # type: ignore[union-attr]

    def modify(self, fd: int, mask: int) -> None:
        if self._epoll is not None:
            self._epoll.modify(fd, self._epoll_mask(mask))
        else:
            self._selector.modify(fd, mask)  # type: ignore[union-attr]

    def unregister(self, fd: int) -> None:
        self.objects.pop(fd, None)
        try:
            if self._epoll is not None:
                self._epoll.unregister(fd)
            else:
                self._selector.unregister(fd)  # type: ignore[union-attr]
        except (KeyError, ValueError, OSError):
            pass

    def poll(self, timeout: float | None = None) -> list[tuple[int, int]]:
        """(descriptor, event bits) for each ready descriptor (None: wait until one
        is)."""
        if self._epoll is None:
            return [(key.fd, mask) for key, mask in self._selector.select(timeout)]  # type: ignore[union-attr]
        return self._epoll.poll(-1 if timeout is None else timeout)

    def mask(self, bits: int) -> int:
        """READ|WRITE for `bits`; an error or hangup reads as both, so the socket's
        next read or write finds out what happened."""
        if self._epoll is None:
            return bits
        mask = 0
        if bits & (select.EPOLLIN | select.EPOLLERR | select.EPOLLHUP):
            mask = READ
        if bits & (select.EPOLLOUT | select.EPOLLERR | select.EPOLLHUP):
            mask |= WRITE
        return mask

    def close(self) -> None:
        if self._epoll is not None:
            self._epoll.close()
        else:
            self._selector.close()  # type: ignore[union-attr]


_GONE = object()


class NetError(Exception):
    """A socket request that fails at once (listen on a port in use, a bad address)."""


class Sock:
    """One socket: its OS object, owner, state, write queues and statistics."""

    __slots__ = ("id", "owner", "sock", "state", "protocol", "wbuf", "wlow", "wb_size",
                 "warn_size", "closing", "reading", "mask", "read", "write", "rtime",
                 "wtime", "peer", "name", "accepted", "udp_peer", "family", "rsize",
                 "wlock", "direct", "at_once")

    def __init__(self, sid: int, owner: int, sock: socket.socket | None, state: str,
                 protocol: str = "TCP") -> None:
        self.id = sid
        self.owner = owner
        self.sock = sock
        self.state = state
        self.protocol = protocol
        #: Queued writes: `send` goes to wbuf, `lsend` (low priority) to wlow, sent only
        #: when wbuf is empty. UDP entries are (data, address).
        self.wbuf: deque[Any] = deque()
        self.wlow: deque[Any] = deque()
        #: wbuf's head is the rest of a write made at once, which no round has begun to
        #: send: it goes first, but an lwrite does not count it as queued (skynet keeps
        #: such a rest apart from its lists until its socket thread sends).
        self.at_once = False
        self.wb_size = 0
        self.warn_size = 0
        #: Closed by its owner while writes were queued: it goes when they are sent.
        self.closing = False
        #: The owner wants reads (started and not paused).
        self.reading = False
        #: What the selector watches now.
        self.mask = 0
        self.read = 0
        self.write = 0
        #: When it was last read and written, on the monotonic clock (0: never);
        #: netstat shows them in skynet.now() ticks.
        self.rtime = 0.0
        self.wtime = 0.0
        self.peer = ""
        self.name = ""
        self.accepted = 0
        self.udp_peer: Any = None
        self.family = socket.AF_INET
        self.rsize = RECV_MIN
        #: Guards the write queues and `sock` between writers (any worker) and a round:
        #: one lock per socket, so writes to different sockets never wait for each other.
        self.wlock = threading.Lock()
        #: Attached to the server's DirectWrite: services' writes may go from C.
        self.direct = False

    def drop_writes(self) -> None:
        """Forget every queued write (with the write lock held): the socket is closing
        or can no longer be written."""
        self.wbuf.clear()
        self.wlow.clear()
        self.at_once = False
        self.wb_size = 0


def _strerror(e: BaseException) -> str:
    """The system's words for an error, as skynet's strerror / gai_strerror give them
    (a name lookup's error numbers are not errno's: its own text is the one to use)."""
    text = getattr(e, "strerror", None)
    if text:
        return text
    code = getattr(e, "errno", None)
    if code:
        return os.strerror(code)
    return str(e) or type(e).__name__


def split_address(host: str, port: int | None) -> tuple[str, int]:
    """skynet's address forms: (host, port), or "host:port" / "[v6]:port" with no port."""
    if port is not None:
        return host, int(port)
    if host.startswith("["):
        end = host.find("]")
        if end < 0 or host[end + 1:end + 2] != ":":
            raise NetError(f"invalid address {host!r} (expected [ipv6]:port)")
        return host[1:end], int(host[end + 2:])
    h, sep, p = host.rpartition(":")
    if not sep or not p.isdigit():
        raise NetError(f"invalid address {host!r} (expected host:port)")
    return h, int(p)


def _addr_text(addr: Any) -> tuple[str, int]:
    return str(addr[0]), int(addr[1])


def pack_udp_address(family: int, addr: Any) -> bytes:
    """A UDP peer as an opaque string, as skynet hands one to the callback: the
    protocol byte, the port (big-endian) and the address bytes."""
    ip, port = _addr_text(addr)
    if family == socket.AF_INET6:
        return b"\x02" + port.to_bytes(2, "big") + socket.inet_pton(socket.AF_INET6, ip)
    return b"\x01" + port.to_bytes(2, "big") + socket.inet_pton(socket.AF_INET, ip)


def unpack_udp_address(data: bytes) -> tuple[int, tuple[str, int]]:
    """(family, (ip, port)) of a string pack_udp_address made."""
    if len(data) == 7 and data[0] == 1:
        return socket.AF_INET, (socket.inet_ntop(socket.AF_INET, data[3:]),
                                int.from_bytes(data[1:3], "big"))
    if len(data) == 19 and data[0] == 2:
        return socket.AF_INET6, (socket.inet_ntop(socket.AF_INET6, data[3:]),
                                 int.from_bytes(data[1:3], "big"))
    raise NetError("invalid udp address")


class SocketServer:
    """The sockets of one node; the scheduler's workers poll them (`round`)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        #: skynet.now() of a moment on the monotonic clock, for what netstat shows
        self.ticks: Callable[[float], int] = node.timer.ticks
        self.lock = threading.Lock()
        self.sockets: dict[int, Sock] = {}
        self._next_id = 0
        self._commands: deque[tuple[Callable[..., None], tuple[Any, ...]]] = deque()
        self._poller = _Poller()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._poller.register(self._wake_r.fileno(), READ, None)
        self._wake_pending = False
        #: Messages a round has ready: (owner, payload, socket ids to close if the owner
        #: is gone).
        self._out: list[tuple[int, bytes, tuple[int, ...]]] = []
        self._stopping = False
        #: When the last round began (the monotonic clock).
        self.polled_at = 0.0
        #: A spare descriptor, given up to accept and drop a connection when the process
        #: is out of descriptors (else the listener stays readable and the poll spins).
        self._reserve_fd: int | None = os.open(os.devnull, os.O_RDONLY)
        #: The C half of services' writes (None: every write comes here), and the
        #: slots its live sockets take there (no two may share one).
        self.direct = DirectWrite.new(node.config.lua)
        self._slots: set[int] = set()

    # --- from any thread ---------------------------------------------------------------

    def _alloc(self, owner: int, sock: socket.socket | None, state: str,
               protocol: str = "TCP") -> Sock:
        with self.lock:
            if len(self.sockets) >= MAX_SOCKET:
                raise NetError(f"too many sockets ({MAX_SOCKET} open)")
            slots = self._slots
            while True:
                self._next_id = self._next_id + 1 if self._next_id < 0x7FFFFFFF else 1
                if (self._next_id not in self.sockets
                        and self._next_id % MAX_SOCKET not in slots):
                    break
            s = Sock(self._next_id, owner, sock, state, protocol)
            self.sockets[s.id] = s
            slots.add(s.id % MAX_SOCKET)
        return s

    def _attach(self, s: Sock) -> None:
        """A TCP socket with a descriptor: services' writes to it may go from C (once
        it is connected and `_reopen` opens it)."""
        if self.direct is not None and s.sock is not None:
            s.direct = self.direct.attach(s.id, s.sock.fileno())

    def _call(self, fn: Callable[..., None], *args: Any) -> None:
        """Run fn in the next round, after what was asked before."""
        self._commands.append((fn, args))
        self.node.scheduler.poll_now()

    def poke(self) -> None:
        """Wake the round that waits in the poll (from any thread)."""
        if not self._wake_pending:
            self._wake_pending = True
            try:
                self._wake_w.send(b"\0")
            except (BlockingIOError, OSError):
                pass  # the pipe is full (so the round wakes anyway) or closing

    @property
    def pending(self) -> bool:
        """Requests wait for a round."""
        return bool(self._commands)

    # --- requests services make (skynet's socket_server_* functions) --------------------

    def listen(self, owner: int, host: str, port: int | None, backlog: int | None) -> int:
        host, port = split_address(host, port)
        # no host: skynet listens on 0.0.0.0; the defaults skykernel picks stay loopback
        host = host or "127.0.0.1"
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_PASSIVE)
        except OSError as e:
            raise NetError(f"Listen error: {host}:{port}: {_strerror(e)}") from None
        family, stype, proto, _, addr = infos[0]
        sock = socket.socket(family, stype, proto)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(addr)
            sock.listen(backlog or BACKLOG)
            sock.setblocking(False)
            s = self._alloc(owner, sock, PLISTEN)
        except (OSError, NetError) as e:
            sock.close()
            raise NetError(f"Listen error: {host}:{port}: {_strerror(e)}") from None
        s.family = family
        ip, bound = _addr_text(sock.getsockname())
        s.name = f"{ip}:{bound}"
        # skynet tells the listener its address at once (socket.listen waits for it)
        self._call(self._report, owner, SOCKET_CONNECT, s.id, bound, ip.encode())
        return s.id

    def connect(self, owner: int, host: str, port: int | None) -> int:
        host, port = split_address(host, port)
        s = self._alloc(owner, None, RESERVE)
        self._call(self._connect, s, host, port)
        return s.id

    def start(self, owner: int, sid: int) -> None:
        self._call(self._start, owner, sid)

    def pause(self, sid: int) -> None:
        self._call(self._pause, sid)

    def close(self, requester: int, sid: int, force: bool = False) -> None:
        self._call(self._close, requester, sid, force)

    def nodelay(self, sid: int) -> None:
        self._call(self._nodelay, sid)

    def owner_gone(self, owner: int) -> None:
        """Its service is dead: every socket it owns closes (no messages)."""
        self._call(self._close_owned, owner)

    def send(self, sid: int, data: bytes, low: bool = False) -> bool:
        """Queue data on a socket; write at once when nothing waits before it. False if
        the socket cannot be written (unknown, closed, closing)."""
        s = self.sockets.get(sid)
        if s is not None and s.protocol == "UDP":
            return self.udp_send(sid, None, data)  # to the peer it is connected to
        if s is None or s.closing or s.state not in _WRITABLE:
            return False
        failed: OSError | None = None
        with s.wlock:
            if self.sockets.get(sid) is not s or s.closing:
                return False  # closed while this thread waited for the lock
            try:
                held = self._take_held(s)  # a direct write's rest goes first
                if not data and not held:
                    return True
                if data:
                    now = False
                    if s.state == CONNECTED or s.state == HALFCLOSE_READ:
                        if not s.wbuf and not s.wlow:
                            n = self._write_now(s, data)
                            if n == len(data):
                                return True
                            data = memoryview(data)[n:]  # type: ignore[assignment]
                            now = not s.wbuf
                    elif s.state not in _WRITABLE:
                        return False
                    self._queue(s, data, low, now)
                warn = self._check_warning(s)
            except OSError as e:
                failed = e
        if failed is not None:
            self._call(self._write_failed, s, failed)
            return True
        self._call(self._want_write, s, warn)
        return True

    @staticmethod
    def _queue(s: Sock, data: Any, low: bool, now: bool) -> None:
        """With s.wlock held: queue data as skynet does. An lwrite waits behind every
        write queued before it; one that finds nothing queued (the rest of a write made
        at once does not count) is queued as a write, and so is the rest of any write
        made at once, so that no later write passes its bytes. `now`: data is the rest
        of a write made at once, with nothing queued."""
        if low and (s.wlow or len(s.wbuf) > s.at_once):
            s.wlow.append(data)
        else:
            if now and not low:
                s.at_once = True
            s.wbuf.append(data)
        s.wb_size += len(data)

    def _write_now(self, s: Sock, data: bytes) -> int:
        """With s.wlock held, nothing queued and the socket writable: write what the
        kernel takes now (nothing if a direct write's rest came first: it is queued)."""
        if s.direct:
            n = self.direct.write(s.id, data)  # type: ignore[union-attr]
            if n is None:
                self._take_held(s)
                return 0
            return n
        try:
            n = s.sock.send(data)  # type: ignore[union-attr]
        except BlockingIOError:
            return 0
        if n:
            s.write += n
            s.wtime = monotonic()
        return n

    def _take_held(self, s: Sock) -> int:
        """With s.wlock held: queue, first, what a direct write left to send (its
        length); OSError if the C could not keep it (the write has failed)."""
        if not s.direct:
            return 0
        rest = self.direct.take(s.id)  # type: ignore[union-attr]
        if rest:
            s.wbuf.appendleft(rest)
            s.at_once = True
            s.wb_size += len(rest)
        return len(rest)

    def _reopen(self, s: Sock) -> None:
        """With s.wlock held: services' writes may go from C again, if the socket is
        writable and nothing waits to be sent."""
        if (s.direct and not s.closing and not s.wbuf and not s.wlow
                and (s.state == CONNECTED or s.state == HALFCLOSE_READ)):
            self.direct.open(s.id)  # type: ignore[union-attr]

    def udp_open(self, owner: int, host: str | None, port: int | None,
                 connect: tuple[str, int] | None = None) -> int:
        """A UDP socket, bound to host:port if given, its default peer `connect` if given."""
        family = socket.AF_INET
        bind_addr = None
        if host:
            family, bind_addr = self._resolve_udp(host, port or 0)
        peer = None
        if connect is not None:
            pfamily, peer = self._resolve_udp(*connect)
            if not host:
                family = pfamily
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if bind_addr is not None:
                sock.bind(bind_addr)
            if peer is not None:
                sock.connect(peer)
            sock.setblocking(False)
            s = self._alloc(owner, sock, UDP, "UDP")
        except (OSError, NetError) as e:
            sock.close()
            raise NetError(f"udp error: {_strerror(e)}") from None
        s.family = family
        self._set_udp_peer(s, peer)
        s.reading = True
        self._call(self._update, s)
        return s.id

    def udp_connect(self, sid: int, host: str, port: int) -> None:
        s = self.sockets.get(sid)
        if s is None or s.protocol != "UDP":
            raise NetError(f"udp_connect: {sid} is not a udp socket")
        family, peer = self._resolve_udp(host, port)
        try:
            s.sock.connect(peer)  # type: ignore[union-attr]
        except OSError as e:
            raise NetError(f"udp_connect: {_strerror(e)}") from None
        self._set_udp_peer(s, peer)

    @staticmethod
    def _set_udp_peer(s: Sock, peer: Any) -> None:
        """A udp socket's default peer, which netstat lists as skynet does."""
        s.udp_peer = peer
        if peer is not None:
            ip, port = _addr_text(peer)
            s.peer = f"{ip}:{port}"

    def udp_send(self, sid: int, address: bytes | None, data: bytes) -> bool:
        s = self.sockets.get(sid)
        if s is None or s.protocol != "UDP" or s.sock is None:
            return False
        if address is None:
            if s.udp_peer is None:
                return False
            target = s.udp_peer
        else:
            _, target = unpack_udp_address(address)
        with s.wlock:
            if s.sock is None:
                return False  # closed while this thread waited for the lock
            if not s.wbuf:
                try:
                    s.sock.sendto(data, target)
                    s.write += len(data)
                    s.wtime = monotonic()
                    return True
                except BlockingIOError:
                    pass
                except OSError:
                    return False  # a datagram that cannot go is dropped, as in skynet
            s.wbuf.append((data, target))
            s.wb_size += len(data)
        self._call(self._want_write, s, None)
        return True

    def _resolve_udp(self, host: str, port: int) -> tuple[int, Any]:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
        except OSError as e:
            raise NetError(f"udp address {host}:{port}: {_strerror(e)}") from None
        return infos[0][0], infos[0][4]

    def info(self) -> list[dict[str, Any]]:
        """skynet's socket_server_info: a row per listed socket."""
        rows = []
        with self.lock:
            socks = list(self.sockets.values())
        for s in socks:
            if s.state in (LISTEN, PLISTEN):
                row: dict[str, Any] = {"id": s.id, "type": "LISTEN", "address": s.owner,
                                       "accept": s.accepted, "rtime": self.ticks(s.rtime)}
                if s.name:
                    row["sock"] = s.name
                rows.append(row)
                continue
            if s.state not in (CONNECTED, HALFCLOSE_READ, HALFCLOSE_WRITE, UDP):
                continue  # skynet lists neither sockets still opening nor unstarted ones
            if s.protocol == "UDP":
                kind = "UDP"
            elif s.state == CONNECTED and not s.closing:
                kind = "TCP"
            else:
                kind = "CLOSING"
            write, wtime = s.write, s.wtime
            if s.direct:
                direct, when = self.direct.written(s.id)  # type: ignore[union-attr]
                write, wtime = write + direct, max(wtime, when)
            row = {"id": s.id, "type": kind, "address": s.owner, "read": s.read,
                   "write": write, "rtime": self.ticks(s.rtime),
                   "wtime": self.ticks(wtime),
                   "wbuffer": s.wb_size, "reading": s.reading and not s.closing,
                   "writing": bool(s.wbuf or s.wlow)}
            if s.peer:
                row["peer"] = s.peer
            rows.append(row)
        rows.sort(key=lambda r: r["id"])
        return rows

    def stop(self) -> None:
        """Close every socket (the node's shutdown, once the workers have stopped; a round
        the monitor began ends first)."""
        if self._stopping:
            return
        self._stopping = True
        self.node.scheduler.end_polls()
        with self.lock:
            socks = list(self.sockets.values())
            self.sockets.clear()
            self._slots.clear()
        if self.direct is not None:
            self.direct.free()  # no service writes from C from now on
        for s in socks:
            if s.sock is not None:
                s.sock.close()
        self._poller.close()
        self._wake_r.close()
        self._wake_w.close()
        if self._reserve_fd is not None:
            os.close(self._reserve_fd)
            self._reserve_fd = None

    # --- a round (on the thread holding the poll role) ---------------------------------

    def round(self, timeout: float | None, keep: int = 0) -> None:
        """Wait up to `timeout` (None: until something happens or poke) for the sockets,
        handle what happened and the requests made, and hand the messages to the
        scheduler (`keep`: services the calling worker will run itself)."""
        self.polled_at = monotonic()
        if self._stopping:
            return
        if self._commands:
            # asked before the caller took the poll: no poke woke it (one asked from
            # now on pokes, as the role is taken)
            timeout = 0.0
        poller = self._poller
        try:
            events = poller.poll(timeout)
        except InterruptedError:
            events = []
        sockets = self.sockets
        objects = poller.objects
        readable = poller.readable
        for fd, bits in events:
            s = objects.get(fd, _GONE)
            if s is None:
                self._drain_wake()
                continue
            if s is _GONE or sockets.get(s.id) is not s:
                continue  # closed by an earlier event of this round
            try:
                if bits == readable and s.state == CONNECTED:  # the usual event: bytes came
                    self._recv(s)
                else:
                    self._event(s, poller.mask(bits))
            except Exception as e:  # noqa: BLE001 - one socket's fault stays with it
                self.node.logger.write(0, f"socket {s.id}: {e!r}")
                self._force_close(s)
        if self._commands:
            self._run_commands()
        if self._out:
            self._deliver(keep)

    def _drain_wake(self) -> None:
        # Empty the pipe first, then clear the flag: a request queued from now on
        # writes a new byte, and one queued before is run by this round's
        # _run_commands. (Clearing first could leave the flag set with the pipe empty.)
        try:
            while self._wake_r.recv(4096):
                pass
        except (BlockingIOError, OSError):
            pass
        self._wake_pending = False

    def _run_commands(self) -> None:
        commands = self._commands
        while commands:
            fn, args = commands.popleft()
            try:
                fn(*args)
            except Exception as e:  # noqa: BLE001 - a bad request must not end the round
                self.node.logger.write(0, f"socket request {fn.__name__}: {e!r}")

    def _event(self, s: Sock, mask: int) -> None:
        state = s.state
        if state == LISTEN:
            self._accept(s)
        elif state == CONNECTING:
            self._connected(s)
        elif s.protocol == "UDP":
            if mask & WRITE:
                self._flush_udp(s)
            if mask & READ:
                self._recv_udp(s)
        else:
            if mask & WRITE:
                self._flush(s)
            if mask & READ and self.sockets.get(s.id) is s:
                self._recv(s)

    def _emit(self, owner: int, kind: int, sid: int, ud: int, data: bytes = b"",
              close: tuple[int, ...] = ()) -> None:
        self._out.append((owner, HEADER.pack(kind, sid, ud) + data, close))

    def _report(self, owner: int, kind: int, sid: int, ud: int, data: bytes) -> None:
        self._emit(owner, kind, sid, ud, data)

    def _deliver(self, keep: int) -> None:
        """Hand this round's messages to the scheduler in one go; the sockets of owners
        that have died meanwhile close."""
        out, self._out = self._out, []
        sched = self.node.scheduler
        lost: list[tuple[int, tuple[int, ...]]] = []  # rare: no set made per round
        with sched.lock:
            enqueue = sched.enqueue
            for owner, msg, close in out:
                if not enqueue(0, owner, PTYPE_SOCKET, 0, msg):
                    lost.append((owner, close))
            sched.wake(keep)
        if lost:
            self._close_lost({owner for owner, _ in lost}, [i for _, c in lost for i in c])

    def _close_lost(self, owners: set[int], ids: list[int]) -> None:
        """Sockets whose owner died: an accepted one it never heard of, and any other
        it still owns (its exit hook may have run before they were made)."""
        for sid in ids:
            s = self.sockets.get(sid)
            if s is not None and not self._alive(s.owner):
                self._force_close(s)
        for s in [s for s in self.sockets.values() if s.owner in owners]:
            if not self._alive(s.owner):
                self._force_close(s)

    def _alive(self, handle: int) -> bool:
        svc = self.node.handles.services.get(handle)
        return svc is not None and not svc.dead

    # --- selector bookkeeping ----------------------------------------------------------

    def _update(self, s: Sock) -> None:
        """Watch what the socket needs now: reads while started, writes while queued."""
        if s.sock is None or self.sockets.get(s.id) is not s:
            return
        mask = 0
        if s.state == LISTEN or (s.reading and not s.closing and s.state in (
                CONNECTED, HALFCLOSE_WRITE, UDP)):
            mask |= READ
        if s.state == CONNECTING or s.wbuf or s.wlow:
            mask |= WRITE
        if mask == s.mask:
            return
        poller = self._poller
        fd = s.sock.fileno()
        if s.mask == 0:
            poller.register(fd, mask, s)
        elif mask == 0:
            poller.unregister(fd)
        else:
            poller.modify(fd, mask)
        s.mask = mask

    def _force_close(self, s: Sock) -> None:
        """Drop the socket now, queued writes and all."""
        with self.lock:
            if self.sockets.get(s.id) is s:
                del self.sockets[s.id]
                self._slots.discard(s.id % MAX_SOCKET)
        with s.wlock:
            if s.direct:  # before the descriptor closes and its number is reused
                self.direct.detach(s.id)  # type: ignore[union-attr]
                s.direct = False
            s.drop_writes()
            sock, s.sock = s.sock, None  # a writer holding the lock next sees it gone
        if sock is not None:
            if s.mask:
                self._poller.unregister(sock.fileno())
                s.mask = 0
            sock.close()

    # --- requests, in a round ----------------------------------------------------------

    def _connect(self, s: Sock, host: str, port: int) -> None:
        if self.sockets.get(s.id) is not s:
            return  # closed before the connect began
        try:
            family, stype, proto, _, addr = socket.getaddrinfo(
                host, port, type=socket.SOCK_STREAM)[0]
            sock = socket.socket(family, stype, proto)
        except OSError as e:
            self._force_close(s)
            self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())
            return
        sock.setblocking(False)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        s.sock = sock
        s.family = family
        self._attach(s)
        code = sock.connect_ex(addr)
        if code == 0:
            self._established(s)
        elif code in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN):
            s.state = CONNECTING
            self._update(s)
        else:
            self._force_close(s)
            self._emit(s.owner, SOCKET_ERROR, s.id, 0, os.strerror(code).encode())

    def _connected(self, s: Sock) -> None:
        code = s.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)  # type: ignore[union-attr]
        if code:
            self._force_close(s)
            self._emit(s.owner, SOCKET_ERROR, s.id, 0, os.strerror(code).encode())
            return
        self._established(s)

    def _established(self, s: Sock) -> None:
        with s.wlock:
            s.state = CONNECTED
            self._reopen(s)
        s.reading = True
        ip = ""
        try:
            ip, port = _addr_text(s.sock.getpeername())  # type: ignore[union-attr]
            s.peer = f"{ip}:{port}"
        except OSError:
            pass
        self._update(s)
        self._emit(s.owner, SOCKET_CONNECT, s.id, 0, ip.encode())

    def _start(self, owner: int, sid: int) -> None:
        s = self.sockets.get(sid)
        if s is None or s.state in (RESERVE, CONNECTING):
            self._emit(owner, SOCKET_ERROR, sid, 0, b"invalid socket")
            return
        if s.state in (PACCEPT, PLISTEN):
            with s.wlock:
                s.state = CONNECTED if s.state == PACCEPT else LISTEN
                self._reopen(s)
            s.owner = owner
            s.reading = True
            self._update(s)
            self._emit(owner, SOCKET_CONNECT, sid, 0, b"start")
        elif s.state in (CONNECTED, HALFCLOSE_WRITE, HALFCLOSE_READ, LISTEN, UDP):
            transfer = s.owner != owner
            s.owner = owner
            if not s.reading:
                s.reading = True
                self._update(s)
            if transfer:
                self._emit(owner, SOCKET_CONNECT, sid, 0, b"transfer")

    def _pause(self, sid: int) -> None:
        s = self.sockets.get(sid)
        if s is not None and s.reading:
            s.reading = False
            self._update(s)

    def _nodelay(self, sid: int) -> None:
        s = self.sockets.get(sid)
        if s is not None and s.sock is not None and s.protocol == "TCP":
            try:
                s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass

    def _close(self, requester: int, sid: int, force: bool) -> None:
        """skynet's close_socket: the requester hears CLOSE at once (unless the peer's
        EOF already told it), and a socket with writes queued stays until they are sent
        (unless `force`, skynet's shutdown)."""
        s = self.sockets.get(sid)
        if s is None:
            return
        told = s.state == HALFCLOSE_READ  # its CLOSE went out when the EOF came
        with s.wlock:
            try:
                self._take_held(s)  # what a write began is sent before the close
            except OSError:
                force = True
            linger = not force and bool(s.wbuf or s.wlow) and s.state not in (
                HALFCLOSE_WRITE, CONNECTING, RESERVE)
            if linger:
                s.closing = True  # under the lock: no write opens it again
                if s.direct:
                    self.direct.shut(s.id)  # type: ignore[union-attr]
        if not linger:
            self._force_close(s)
            if not told:
                self._emit(requester, SOCKET_CLOSE, sid, 0)
            return
        s.reading = False
        self._update(s)
        if not told:
            self._emit(requester, SOCKET_CLOSE, sid, 0)

    def _close_owned(self, owner: int) -> None:
        for s in [s for s in self.sockets.values() if s.owner == owner]:
            self._force_close(s)

    def _want_write(self, s: Sock, warn: int | None) -> None:
        if warn is not None:
            self._emit(s.owner, SOCKET_WARNING, s.id, warn)
        self._update(s)

    def _check_warning(self, s: Sock) -> int | None:
        """The K bytes to warn of, when the queue has grown past the next threshold."""
        size = s.wb_size
        if size >= WARNING_SIZE and size >= s.warn_size:
            s.warn_size = WARNING_SIZE * 2 if s.warn_size == 0 else s.warn_size * 2
            return (size + 1023) // 1024
        return None

    def _write_failed(self, s: Sock, e: OSError) -> None:
        """skynet's close_write: a socket that also had EOF closes; otherwise it can
        still be read, and its owner hears of the error."""
        if self.sockets.get(s.id) is not s:
            return
        if s.state in (HALFCLOSE_READ, HALFCLOSE_WRITE) or s.closing:
            self._force_close(s)  # its owner has heard of its end already
            return
        with s.wlock:
            s.state = HALFCLOSE_WRITE
            if s.direct:
                self.direct.shut(s.id)  # type: ignore[union-attr]
            s.drop_writes()
        try:
            s.sock.shutdown(socket.SHUT_WR)  # type: ignore[union-attr]
        except OSError:
            pass
        self._update(s)
        self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())

    # --- events ------------------------------------------------------------------------

    def _accept(self, s: Sock) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, addr = s.sock.accept()  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                if e.errno in (errno.EMFILE, errno.ENFILE):
                    self._shed_one(s)
                    self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())
                    return
                if e.errno in (errno.ECONNABORTED, errno.EPROTO):
                    continue
                self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())
                return
            conn.setblocking(False)
            try:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                c = self._alloc(s.owner, conn, PACCEPT)
            except (OSError, NetError):
                conn.close()  # past MAX_SOCKET: dropped, as skynet drops it
                continue
            self._attach(c)
            c.family = s.family
            ip, port = _addr_text(addr)
            c.peer = f"{ip}:{port}"
            s.accepted += 1
            s.rtime = monotonic()
            self._emit(s.owner, SOCKET_ACCEPT, s.id, c.id, c.peer.encode(), close=(c.id,))

    def _shed_one(self, s: Sock) -> None:
        """Out of descriptors: free the spare, accept and drop one connection, take the
        spare back, so the listener does not stay readable forever."""
        if self._reserve_fd is None:
            return
        os.close(self._reserve_fd)
        self._reserve_fd = None
        try:
            conn, _ = s.sock.accept()  # type: ignore[union-attr]
            conn.close()
        except OSError:
            pass
        try:
            self._reserve_fd = os.open(os.devnull, os.O_RDONLY)
        except OSError:
            self._reserve_fd = None

    def _recv(self, s: Sock) -> None:
        size = s.rsize
        try:
            data = s.sock.recv(size)  # type: ignore[union-attr]
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            self._force_close(s)
            self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())
            return
        n = len(data)
        if n:
            if n == size:
                if size < RECV_MAX:
                    s.rsize = size * 2
            elif size > RECV_MIN and n * 2 < size:
                s.rsize = size // 2
            s.read += n
            s.rtime = monotonic()
            self._emit(s.owner, SOCKET_DATA, s.id, n, data)
            return
        # EOF: the peer will send no more
        if s.closing:
            if not (s.wbuf or s.wlow):
                self._force_close(s)
            return
        if s.state == HALFCLOSE_WRITE:
            self._force_close(s)
            self._emit(s.owner, SOCKET_CLOSE, s.id, 0)
            return
        s.state = HALFCLOSE_READ
        s.reading = False
        try:
            s.sock.shutdown(socket.SHUT_RD)  # type: ignore[union-attr]
        except OSError:
            pass
        self._update(s)
        self._emit(s.owner, SOCKET_CLOSE, s.id, 0)

    def _flush(self, s: Sock) -> None:
        sock = s.sock
        failed: OSError | None = None
        with s.wlock:
            s.at_once = False  # the round sends it now: it is queued like any write
            while True:
                q = s.wbuf if s.wbuf else s.wlow
                if not q:
                    break
                data = q[0]
                try:
                    n = sock.send(data)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    break
                except OSError as e:
                    failed = e
                    break
                s.write += n
                s.wtime = monotonic()
                s.wb_size -= n
                if n < len(data):
                    rest = memoryview(data)[n:]
                    if q is s.wlow:  # a low write begun goes on first (skynet does so)
                        s.wlow.popleft()
                        s.wbuf.appendleft(rest)
                    else:
                        q[0] = rest
                    break
                q.popleft()
            empty = not s.wbuf and not s.wlow
            if empty and failed is None:
                self._reopen(s)
        if failed is not None:
            self._write_failed(s, failed)
            return
        if empty:
            if s.warn_size:
                s.warn_size = 0
                self._emit(s.owner, SOCKET_WARNING, s.id, 0)
            if s.closing:
                self._force_close(s)  # its CLOSE went out when it was closed
                return
        self._update(s)

    def _recv_udp(self, s: Sock) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                data, addr = s.sock.recvfrom(65536)  # type: ignore[union-attr]
            except (BlockingIOError, InterruptedError):
                return
            except OSError as e:
                self._emit(s.owner, SOCKET_ERROR, s.id, 0, _strerror(e).encode())
                return
            s.read += len(data)
            s.rtime = monotonic()
            self._emit(s.owner, SOCKET_UDP, s.id, len(data),
                       data + pack_udp_address(s.family, addr))

    def _flush_udp(self, s: Sock) -> None:
        with s.wlock:
            while s.wbuf:
                data, target = s.wbuf[0]
                try:
                    s.sock.sendto(data, target)  # type: ignore[union-attr]
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    pass  # dropped, as a datagram may be
                s.wbuf.popleft()
                s.wb_size -= len(data)
                s.write += len(data)
                s.wtime = monotonic()
        self._update(s)


def server(node: Node) -> SocketServer:
    """The node's socket server, started on first use."""
    net = node.net
    if net is None:
        with _create_lock:
            net = node.net
            if net is None:
                net = SocketServer(node)
                node.net = net
                node.scheduler.net_started()
    return net


_create_lock = threading.Lock()
