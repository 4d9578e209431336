"""The fuzz properties with many more, random examples: `make fuzz`.

Runs tests/node/test_fuzz_seri.py (both unpackers on random and mutated streams, round trips,
the depth limit) and tests/node/test_fuzz_console.py (the debug console over TCP, and 50
clients at once for 20 s) with SKYKERNEL_FUZZ=long: the normal test run tries a few
hundred fixed examples per property, this tries thousands of random ones. Hypothesis
prints each property's example count and time; extra arguments go to pytest (`-x`,
`-k console`, ...).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ["tests/node/test_fuzz_seri.py", "tests/node/test_fuzz_console.py"]


def main() -> int:
    env = dict(os.environ, SKYKERNEL_FUZZ="long")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args = [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
            "--timeout=3600", "--hypothesis-show-statistics", *FILES, *sys.argv[1:]]
    t0 = time.monotonic()
    code = subprocess.call(args, cwd=ROOT, env=env)
    print(f"fuzz: {time.monotonic() - t0:.0f} s, pytest exit code {code}")
    return code


if __name__ == "__main__":
    sys.exit(main())
