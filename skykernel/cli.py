"""The `skykernel` command: run a skynet config headless, or install the kernelspec."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time

from .node.config import ConfigError, load_config
from .node.handle import format_address
from .node.logger import stdout_logger
from .node.node import Node

#: A second Ctrl-C within this many seconds ends the node.
SECOND_CTRL_C = 2.0


async def _run(config_path: str) -> int:
    config = load_config(config_path)
    node = Node(config, logger=stdout_logger(config.logger))
    _on_ctrl_c(node)
    try:
        await node.start()
        return await node.run_until_done()
    finally:
        await node.shutdown()


def _on_ctrl_c(node: Node) -> None:
    """The first Ctrl-C stops the Lua that services run now (a runaway handler gets the
    error `interrupted` and its service keeps serving); a second one soon after ends the
    node, as people expect of a terminal program."""
    last = [-SECOND_CTRL_C]

    def interrupt() -> None:
        now = time.monotonic()
        if now - last[0] < SECOND_CTRL_C:
            node.logger.write(0, "second Ctrl-C: the node ends")
            node.abort()
            return
        last[0] = now
        stopped = node.interrupt()
        where = " ".join(format_address(h) for h in stopped) or "nothing (no service was running)"
        node.logger.write(0, f"Ctrl-C: interrupted {where}; press it again within "
                             f"{SECOND_CTRL_C:g} s to end the node")

    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, interrupt)


def run(config_path: str) -> int:
    try:
        return asyncio.run(_run(config_path))
    except ConfigError as e:
        print(f"skykernel: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("skykernel: interrupted", file=sys.stderr)
        return 130


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="skykernel", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_run = sub.add_parser("run", help="run a skynet config file headless, log to stdout")
    p_run.add_argument("config")
    p_install = sub.add_parser(
        "install", help="install the Jupyter kernelspecs (both; or one with --name/--lua)")
    where = p_install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true", help="for the current user")
    where.add_argument("--sys-prefix", action="store_true",
                       help="into this Python environment (sys.prefix)")
    where.add_argument("--prefix", help="under this prefix (PREFIX/share/jupyter/kernels)")
    p_install.add_argument("--name", help="the kernelspec's name (installs that one kernel)")
    p_install.add_argument("--display-name", help="the name shown in the launcher")
    p_install.add_argument("--lua", choices=("5.4", "5.5"),
                           help="the Lua the kernel runs (with --name; default 5.4)")
    p_install.add_argument("--env", nargs=2, action="append", metavar=("NAME", "VALUE"),
                           default=[], help="an environment variable the kernel is started "
                           "with (repeat for more)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.config)
    from .install import install

    print("\n".join(install(user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix,
                            name=args.name, display_name=args.display_name, lua=args.lua,
                            env=dict(args.env) or None)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
