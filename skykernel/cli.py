"""The `skykernel` command: run a skynet config headless, or install the kernelspec."""

from __future__ import annotations

import argparse
import asyncio
import sys

from .node.config import ConfigError, load_config
from .node.logger import stdout_logger
from .node.node import Node


async def _run(config_path: str, interruptible: bool) -> int:
    config = load_config(config_path)
    node = Node(config, logger=stdout_logger(config.logger))
    node.guard = interruptible
    try:
        await node.start()
        return await node.run_until_done()
    finally:
        await node.shutdown()


def run(config_path: str, interruptible: bool = False) -> int:
    try:
        return asyncio.run(_run(config_path, interruptible))
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
    p_run.add_argument("--interruptible", action="store_true",
                       help="arm the interrupt hook so Ctrl-C stops runaway Lua (slower)")
    p_install = sub.add_parser("install", help="install the Jupyter kernelspec")
    where = p_install.add_mutually_exclusive_group()
    where.add_argument("--user", action="store_true")
    where.add_argument("--sys-prefix", action="store_true")
    where.add_argument("--prefix")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.config, args.interruptible)
    from .install import install

    print(install(user=args.user, sys_prefix=args.sys_prefix, prefix=args.prefix))
    return 0


if __name__ == "__main__":
    sys.exit(main())
