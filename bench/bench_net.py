"""The network side by side with real skynet, the same Lua programs on both, in one run:

  echo     a gate, a watchdog and an agent per connection; 100 clients (skynet.socket,
           in a client service) each send packets and wait for the echo: packets/s
  channel  skynet.socketchannel round trips (order mode, one caller) to a line server
           in another service of the node: round trips/s
  cluster  cluster.call round trips from one node to a service on another node (two
           processes of the same implementation): calls/s

Each round starts fresh processes of each implementation in turn (rounds interleaved);
figures are medians, ratios are skykernel / skynet (>= 0.8 is the target). Both run
`thread = 2`; skykernel also runs `thread = 1`, to show that a second worker costs
nothing here (the path has little Lua to run in parallel, so the second one stays out
of the way). Where real skynet is absent, skykernel's figures print alone.

    python bench/bench_net.py [ROUNDS]          (default 5)
    ONLY=echo,cluster python bench/bench_net.py
    BEFORE=/tmp/before python bench/bench_net.py (that checkout too, in the same rounds:
                                                  see bench/sidebyside.py)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sidebyside  # noqa: E402

realskynet = sidebyside.realskynet

TARGET = 0.8

WATCHDOG = r"""
local skynet = require "skynet"
local gate
local agents = {}
local SOCKET = {}
function SOCKET.open(fd, addr)
	local a = skynet.newservice("bench_agent")
	agents[fd] = a
	skynet.call(a, "lua", "start", gate, fd)
end
function SOCKET.close(fd)
	local a = agents[fd]
	agents[fd] = nil
	if a then
		skynet.call(gate, "lua", "kick", fd)
		skynet.send(a, "lua", "stop")
	end
end
SOCKET.error = SOCKET.close
function SOCKET.data() end
function SOCKET.warning() end
skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, subcmd, ...)
		if cmd == "socket" then
			SOCKET[subcmd](...)
		else
			skynet.ret(skynet.pack(skynet.call(gate, "lua", "open", subcmd)))
		end
	end)
	gate = skynet.newservice("gate")
end)
"""

AGENT = r"""
local skynet = require "skynet"
local socket = require "skynet.socket"
local netpack = require "skynet.netpack"
local fd
skynet.register_protocol {
	name = "client",
	id = skynet.PTYPE_CLIENT,
	unpack = skynet.tostring,
	dispatch = function(_, _, msg)
		skynet.ignoreret()
		socket.write(fd, netpack.pack(msg))
	end,
}
skynet.start(function()
	skynet.dispatch("lua", function(_, _, cmd, gate, client)
		if cmd == "start" then
			fd = client
			skynet.call(gate, "lua", "forward", fd)
			skynet.ret()
		else
			skynet.exit()
		end
	end)
end)
"""

ECHO_MAIN = r"""
local skynet = require "skynet"
local socket = require "skynet.socket"
local CLIENTS, ROUNDS = 100, tonumber(skynet.getenv("rounds"))
skynet.start(function()
	local wd = skynet.newservice("bench_watchdog")
	local _, port = skynet.call(wd, "lua", "open", { address = "127.0.0.1", port = 0,
		maxclient = 1024, nodelay = true })
	local fds = {}
	for c = 1, CLIENTS do
		fds[c] = assert(socket.open("127.0.0.1", port))
		socket.write(fds[c], string.pack(">s2", "hi"))
		assert(socket.read(fds[c], 4))
	end
	local left, done = CLIENTS, coroutine.running()
	local t0 = skynet.hpc()
	for c = 1, CLIENTS do
		skynet.fork(function()
			local fd = fds[c]
			for i = 1, ROUNDS do
				local msg = "packet " .. i
				socket.write(fd, string.pack(">s2", msg))
				local n = socket.header(socket.read(fd, 2))
				assert(socket.read(fd, n) == msg)
			end
			left = left - 1
			if left == 0 then skynet.wakeup(done) end
		end)
	end
	skynet.wait(done)
	local t = (skynet.hpc() - t0) / 1e9
	skynet.error(string.format("RESULT echo|%.1f", CLIENTS * ROUNDS / t))
	for c = 1, CLIENTS do socket.close(fds[c]) end
	skynet.error("END")
end)
"""

LINE_SERVER = r"""
local skynet = require "skynet"
local socket = require "skynet.socket"
skynet.start(function()
	local lid, _, port = socket.listen("127.0.0.1", 0)
	socket.start(lid, function(id)
		socket.start(id)
		skynet.fork(function()
			while true do
				local line = socket.readline(id)
				if not line then break end
				socket.write(id, line .. "\n")
			end
			socket.close(id)
		end)
	end)
	skynet.dispatch("lua", function() skynet.ret(skynet.pack(port)) end)
end)
"""

CHANNEL_MAIN = r"""
local skynet = require "skynet"
local sc = require "skynet.socketchannel"
local N = tonumber(skynet.getenv("rounds"))
skynet.start(function()
	local server = skynet.newservice("bench_lineserver")
	local port = skynet.call(server, "lua", "port")
	local channel = sc.channel { host = "127.0.0.1", port = port, nodelay = true }
	local function readline(sock) return true, sock:readline() end
	channel:connect(true)
	channel:request("warm\n", readline)
	local t0 = skynet.hpc()
	for i = 1, N do
		channel:request("round trip\n", readline)
	end
	local t = (skynet.hpc() - t0) / 1e9
	skynet.error(string.format("RESULT channel|%.1f", N / t))
	channel:close()
	skynet.error("END")
end)
"""

CLUSTER_ECHO = r"""
local skynet = require "skynet"
skynet.start(function()
	skynet.dispatch("lua", function(_, _, ...) skynet.ret(skynet.pack(...)) end)
end)
"""

CLUSTER_SERVER = r"""
local skynet = require "skynet"
local cluster = require "skynet.cluster"
skynet.start(function()
	cluster.register("echo", skynet.newservice("bench_cluster_echo"))
	cluster.open("server")
	skynet.error("READY")
end)
"""

CLUSTER_CLIENT = r"""
local skynet = require "skynet"
local cluster = require "skynet.cluster"
local N = tonumber(skynet.getenv("rounds"))
skynet.start(function()
	cluster.call("server", "@echo", "warm")
	local t0 = skynet.hpc()
	for i = 1, N do
		cluster.call("server", "@echo", "ping", i)
	end
	local t = (skynet.hpc() - t0) / 1e9
	skynet.error(string.format("RESULT cluster|%.1f", N / t))
	skynet.error("END")
end)
"""

SERVICES = {
    "bench_watchdog": WATCHDOG, "bench_agent": AGENT, "bench_echo_main": ECHO_MAIN,
    "bench_lineserver": LINE_SERVER, "bench_channel_main": CHANNEL_MAIN,
    "bench_cluster_echo": CLUSTER_ECHO, "bench_cluster_server": CLUSTER_SERVER,
    "bench_cluster_client": CLUSTER_CLIENT,
}

# case: (rounds, unit, label)
CASES = {
    "echo": (300, "pkt/s", "echo over gate, 100 clients"),
    "channel": (10_000, "rt/s", "socketchannel round trips"),
    "cluster": (10_000, "calls/s", "cluster.call round trips"),
}


def config(start: str, rounds: int, extra: str = "", thread: int = 2) -> str:
    return (f'start = "{start}"\nluaservice = "./service/?.lua"\nharbor = 0\n'
            f'thread = {thread}\nrounds = "{rounds}"\n{extra}')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(proc: subprocess.Popen[str], timeout: float = 60) -> None:
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.rstrip().endswith("READY"):
                ready.set()
        ready.set()

    threading.Thread(target=read, daemon=True).start()
    if not ready.wait(timeout) or proc.poll() is not None:
        raise RuntimeError("the cluster server node did not start")


def cluster_runner(root: Path, who: str, rounds: int, thread: int = 2,
                   tree: Path = sidebyside.ROOT) -> Callable[[], sidebyside.Results]:
    """Start the server node, run the client node until END, stop the server (`tree`:
    the checkout a skykernel pair runs from)."""

    def run() -> sidebyside.Results:
        port = free_port()
        (root / "clustername.lua").write_text(
            f'server = "127.0.0.1:{port}"\n__nowaiting = true\n')
        extra = 'cluster = "clustername.lua"\n'
        server_cfg = root / "server.config"
        server_cfg.write_text(config("bench_cluster_server", rounds, extra, thread))
        client_cfg = root / "config"
        client_cfg.write_text(config("bench_cluster_client", rounds, extra, thread))
        if who == "skykernel":
            server = sidebyside.start_skykernel(server_cfg, tree, start_new_session=True)
        else:
            server = realskynet.start(server_cfg, who, root)
        try:
            wait_ready(server)
            if who == "skykernel":
                return sidebyside.run_skykernel(client_cfg, root=tree)
            return sidebyside.run_real(client_cfg, who)
        finally:
            realskynet.stop(server)

    return run


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    only = os.environ.get("ONLY", ",".join(CASES)).split(",")
    builds = sidebyside.builds()
    before = sidebyside.before_root()
    who = [*builds, "skykernel"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        runners: dict[str, Callable[[], sidebyside.Results]] = {}
        for case in only:
            n = CASES[case][0]
            if case == "cluster":
                sidebyside.write_tree(root / case, SERVICES, "")
                for w in who:
                    runners[f"{case} {w}"] = cluster_runner(root / case, w, n)
                sidebyside.write_tree(root / "cluster-1", SERVICES, "")
                runners[f"{case} skykernel thread=1"] = cluster_runner(
                    root / "cluster-1", "skykernel", n, thread=1)
                if before is not None:
                    sidebyside.write_tree(root / "cluster-before", SERVICES, "")
                    runners[f"{case} skykernel before"] = cluster_runner(
                        root / "cluster-before", "skykernel", n, tree=before)
                continue
            cfg = sidebyside.write_tree(root / case, SERVICES, config(f"bench_{case}_main", n))
            for b in builds:
                runners[f"{case} {b}"] = (lambda c=cfg, b=b: sidebyside.run_real(c, b))
            runners[f"{case} skykernel"] = lambda c=cfg: sidebyside.run_skykernel(c)
            one = sidebyside.write_tree(root / f"{case}-1", SERVICES,
                                        config(f"bench_{case}_main", n, thread=1))
            runners[f"{case} skykernel thread=1"] = lambda c=one: sidebyside.run_skykernel(c)
            if before is not None:
                runners[f"{case} skykernel before"] = (
                    lambda c=cfg: sidebyside.run_skykernel(c, root=before))
        runs = sidebyside.interleave(rounds, runners)

    head = "".join(f"{'skynet ' + b:>16}{'ratio':>7}" for b in builds)
    print(f"{'benchmark (thread = 2)':<30}{'skykernel':>12}  {'':<8}{head}  target")
    for case in only:
        _, unit, label = CASES[case]
        ours = sidebyside.median(runs[f"{case} skykernel"], case)
        row = f"{label:<30}{ours:>12,.0f}  {unit:<8}"
        ratios = []
        for b in builds:
            theirs = sidebyside.median(runs[f"{case} {b}"], case)
            ratios.append(ours / theirs)
            row += f"{theirs:>16,.0f}{ours / theirs:>6.2f}x"
        if ratios:
            row += f"  >= {TARGET}x: {'met' if min(ratios) >= TARGET else 'NOT met'}"
        print(row)
    print(f"\n{'skykernel thread = 1':<30}{'':>12}  {'':<8}"
          + "".join(f"{'vs skynet ' + b:>16}{'':>7}" for b in builds))
    for case in only:
        _, unit, label = CASES[case]
        one = sidebyside.median(runs[f"{case} skykernel thread=1"], case)
        row = f"{label:<30}{one:>12,.0f}  {unit:<8}"
        for b in builds:
            row += f"{one / sidebyside.median(runs[f'{case} {b}'], case):>15.2f}x{'':>7}"
        print(row)
    sidebyside.print_round_ratios([
        (CASES[case][2], runs[f"{case} skykernel"], [runs[f"{case} {b}"] for b in builds], case)
        for case in only], builds)
    if before is not None:
        sidebyside.print_before_after(before, [
            (CASES[case][2], sidebyside.median(runs[f"{case} skykernel before"], case),
             sidebyside.median(runs[f"{case} skykernel"], case),
             [sidebyside.median(runs[f"{case} {b}"], case) for b in builds])
            for case in only], builds)
    print(f"\nmedians of {rounds} interleaved rounds; master is skynet on Lua 5.5, 1.8 on Lua 5.4")
    return 0


if __name__ == "__main__":
    sys.exit(main())
