"""Run one Lua benchmark program on real skynet and on skykernel, rounds interleaved.

A benchmark is a service tree and a config; its start service logs `RESULT name|value`
lines, then `END`. Each round starts a fresh process of each implementation in turn
(real skynet through `tests/realskynet.py`, skykernel through `python -m skykernel run`),
so both see the same machine at nearly the same moment: a figure recorded on another day
or machine is not a baseline. Where real skynet is absent, skykernel's figures print alone.

BEFORE=PATH (a checkout of another commit, e.g. `git worktree add /tmp/before HEAD~3`)
runs that tree's skykernel as well, in the same rounds, and prints before against after:
a change is measured on the same machine at the same moments as the code it replaces.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # realskynet.py: where real skynet is, how to run it

import realskynet  # noqa: E402

Results = dict[str, float]


def write_tree(root: Path, services: dict[str, str], config: str) -> Path:
    """services/NAME.lua for each entry and `config` in root; returns the config path."""
    (root / "service").mkdir(parents=True, exist_ok=True)
    for name, text in services.items():
        (root / "service" / f"{name}.lua").write_text(text)
    path = root / "config"
    path.write_text(config)
    return path


def parse(lines: Iterable[str]) -> Results:
    """{name: value} from `RESULT name|value` log lines."""
    out: Results = {}
    for line in lines:
        if line.startswith("RESULT "):
            name, value = line[len("RESULT "):].rsplit("|", 1)
            out[name] = float(value)
    return out


def run_real(config: Path, build: str, timeout: float = 900) -> Results:
    return parse(realskynet.run(config, build, timeout=timeout, cwd=config.parent))


def before_root() -> Path | None:
    """The checkout $BEFORE names, to run beside this one; None when it is not set."""
    given = os.environ.get("BEFORE")
    if not given:
        return None
    root = Path(given).resolve()
    if not (root / "skykernel" / "__init__.py").is_file():
        raise SystemExit(f"BEFORE={given}: not a skykernel checkout (no skykernel/__init__.py)")
    return root


def start_skykernel(config: Path, root: Path = ROOT, **popen: Any) -> subprocess.Popen[str]:
    """`python -m skykernel run CONFIG` from the checkout `root`, its log on stdout."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(root), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    return subprocess.Popen([sys.executable, "-m", "skykernel", "run", str(config)],
                            cwd=config.parent, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, **popen)


def run_skykernel(config: Path, timeout: float = 900, root: Path = ROOT) -> Results:
    """skykernel (of the checkout `root`) in a fresh process, until END (or its exit)."""
    proc = start_skykernel(config, root)
    texts: list[str] = []
    done = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            texts.append(realskynet.log_text(line.rstrip("\n")))
            if texts[-1] == "END":
                done.set()
        done.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        if not done.wait(timeout):
            raise TimeoutError("skykernel did not log END; log:\n" + "\n".join(texts[-20:]))
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        reader.join(5)
    results = parse(texts)
    if not results:
        raise RuntimeError("skykernel logged no RESULT; log:\n" + "\n".join(texts[-20:]))
    return results


def interleave(rounds: int, runners: dict[str, Callable[[], Results]],
               progress: bool = True) -> dict[str, list[Results]]:
    """Each runner once per round, in turn; {runner name: [results per round]}."""
    runs: dict[str, list[Results]] = {name: [] for name in runners}
    for r in range(rounds):
        for name, runner in runners.items():
            runs[name].append(runner())
        if progress:
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)
    return runs


def median(runs: list[Results], key: str) -> float:
    return statistics.median(run[key] for run in runs if key in run)


def round_ratios(ours: list[Results], theirs: list[Results], key: str) -> list[float]:
    """Ours over theirs in each round (the two ran a moment apart in it), where both
    have the figure."""
    return [a[key] / b[key] for a, b in zip(ours, theirs, strict=False) if key in a and key in b]


def print_round_ratios(rows: list[tuple[str, list[Results], list[list[Results]], str]],
                       builds: list[str], lower_is_better: frozenset[str] = frozenset()) -> None:
    """Each round's own ratio, lowest and highest: (label, our runs, each build's runs,
    the figure's key) per row. skynet's figures move from round to round here, most of
    all with sockets (docs/network.md, "Speed"): the spread shows how far a median's
    verdict rests on where they landed. For a label in lower_is_better (memory), a
    ratio is theirs / ours."""
    if not builds:
        return
    print(f"\n{'ratio per round (lowest-highest)':<44}"
          + "".join(f"{'vs skynet ' + b:>22}" for b in builds))
    for label, ours, theirs, key in rows:
        row = f"{label:<44}"
        for runs in theirs:
            r = round_ratios(ours, runs, key)
            if label in lower_is_better:
                r = [1 / x for x in r]
            row += f"{f'{min(r):.2f}x-{max(r):.2f}x' if r else '-':>22}"
        print(row)


def builds() -> list[str]:
    present = realskynet.builds()
    if not present:
        print(realskynet.missing_message() + ": skykernel's figures alone")
    return present


def print_before_after(before: Path, rows: list[tuple[str, float, float, list[float]]],
                       builds: list[str], lower_is_better: frozenset[str] = frozenset()) -> None:
    """The BEFORE tree against this one: (label, before, after, real skynet's figure per
    build) per row; for a label in lower_is_better (memory), a ratio is theirs / ours."""
    print(f"\n{'before: ' + str(before):<30}{'before':>12}{'after':>12}{'change':>9}"
          + "".join(f"{'vs skynet ' + b + ': before, after':>32}" for b in builds))
    for label, old, new, theirs in rows:
        low = label in lower_is_better
        row = f"{label:<30}{old:>12,.1f}{new:>12,.1f}{(old / new if low else new / old):>8.2f}x"
        for t in theirs:
            a, b = (t / old, t / new) if low else (old / t, new / t)
            row += f"{f'{a:.2f}x, {b:.2f}x':>32}"
        print(row)
