"""A pytest plugin for finding where the node and real skynet part ways (`make against-skynet`,
or `pytest -p against_skynet ...`): every Lua program a test runs with `tree.run()` runs
again, unchanged, on real skynet master, and where the two logs differ goes to a report.

It asserts nothing and is not part of `make test`, and a test passes or fails as it does
without it: its programs run on real skynet only once its own body has finished, each
from a copy of the tree as it was when it ran, so a server the test owns sees the test's
traffic alone while the test looks. Most of what it reports is known
(docs/differences.md: error texts that say more, lazy loading, the loopback default) or
is the program's own (a pointer where the node has a string); what is left is behaviour
nobody has compared yet. That is how `lwrite`'s order and `redirect` from 0 were found.

The report is `$SKYKERNEL_AGAINST_REPORT`, else `against-skynet.txt` at the top of the
checkout. Paths and line numbers are left out of the comparison, which would otherwise
differ on every traceback. Real skynet never exits by itself: a program that ends by
exiting rather than by logging END waits out its timeout there, and the report shows the
timeout with the log so far.
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BUILD = "master"


def report_path() -> Path:
    return Path(os.environ.get("SKYKERNEL_AGAINST_REPORT") or ROOT / "against-skynet.txt")


def comparable(lines: list[str], until: str | None) -> list[str]:
    """The lines up to the end marker (each side logs its own shutdown after it), with
    the positions of files left out."""
    if until is not None and until in lines:
        lines = lines[:lines.index(until) + 1]
    import realskynet

    return [realskynet.without_positions(ln) for ln in lines]


# The programs the running test has run on the node, each with a copy of its tree as it
# was then: (test, copy, the node's log, end marker, timeout).
_pending: list[tuple[str, Path, list[str], str | None, float]] = []


def pytest_configure(config: pytest.Config) -> None:
    report_path().write_text("")


def pytest_collection_modifyitems(session: pytest.Session, config: pytest.Config,
                                  items: list[pytest.Item]) -> None:
    # conftest is the module pytest loaded (tests import it by that name)
    import realskynet

    conftest = sys.modules["conftest"]
    if BUILD not in realskynet.builds():
        with report_path().open("a") as f:
            f.write(realskynet.missing_message() + "\n")
        return
    ours = conftest.Tree.run

    def run(self: Any, start: str = "main", config: str = "", timeout: float = 30,
            until: str | None = "END", **kwargs: Any) -> list[str]:
        lines = ours(self, start, config, timeout, until, **kwargs)
        copy = Path(tempfile.mkdtemp(prefix="against-skynet-"))
        shutil.copytree(self.root, copy, symlinks=True, dirs_exist_ok=True)
        (copy / "against-skynet.config").write_text(
            conftest.DEFAULT_CONFIG + f'start = "{start}"\n' + config)
        _pending.append((os.environ.get("PYTEST_CURRENT_TEST", "?"), copy, lines, until,
                         timeout))
        return lines

    conftest.Tree.run = run


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Any:
    """After the test's body (its fixtures still up): its programs on real skynet."""
    try:
        return (yield)
    finally:
        while _pending:
            _compare(*_pending.pop(0))


def _compare(test: str, copy: Path, lines: list[str], until: str | None,
             timeout: float) -> None:
    import realskynet

    try:
        real = realskynet.run(copy / "against-skynet.config", BUILD, until=until or "END",
                              timeout=timeout, cwd=copy)
    except (TimeoutError, OSError) as e:
        real = str(e).splitlines()
    finally:
        shutil.rmtree(copy, ignore_errors=True)
    diff = list(difflib.unified_diff(comparable(lines, until), comparable(real, until),
                                     "skykernel", f"skynet {BUILD}", lineterm="", n=1))
    with report_path().open("a") as f:
        f.write(f"===== {test}\n")
        f.write("\n".join(diff) + "\n" if diff else "the same\n")
