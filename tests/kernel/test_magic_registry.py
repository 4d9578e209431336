"""The magic registry: each magic written once, registered where it is written, its help
its docstring; and the lists that must agree with it (the README's, the docs') do."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from skykernel.kernel.registry import AREAS, Magics, cell_magic, line_magic

ROOT = Path(__file__).resolve().parents[2]
MAGIC_NAME = re.compile(r"`(%%?)([a-z_]+)")


def registry() -> Magics:
    magics = Magics(context=None)  # type: ignore[arg-type] - never run here
    magics.load()
    return magics


def named(magics: Magics) -> set[str]:
    return {m.prefix + m.name for m in magics.all()}


def test_the_readme_lists_exactly_the_registered_magics() -> None:
    readme = (ROOT / "README.md").read_text()
    start = readme.index("- Lines starting with `%` are magics")
    bullet = readme[start:readme.index("\n- ", start + 1)]
    listed = {a + b for a, b in MAGIC_NAME.findall(bullet)}
    assert listed == named(registry())


@pytest.mark.parametrize("doc", ["docs/remote.md", "docs/reload.md", "docs/architecture.md"])
def test_the_docs_name_no_magic_that_does_not_exist(doc: str) -> None:
    prose = re.sub(r"```.*?```", "", (ROOT / doc).read_text(), flags=re.S)  # not examples
    mentioned = {a + b for a, b in MAGIC_NAME.findall(prose)}
    assert mentioned - named(registry()) == set()


def test_help_is_the_docstring_and_starts_with_the_magics_own_name() -> None:
    magics = registry()
    for m in magics.all():
        assert m.usage.startswith(m.prefix + m.name), m
        assert m.usage in magics.listing().splitlines()
    hotfix = magics.get("hotfix", cell=True)
    assert hotfix is not None and "checked" in hotfix.doc
    assert magics.get("hotfix", cell=False) is None  # %%hotfix is not %hotfix


def test_a_docstring_that_names_another_magic_is_refused_at_import() -> None:
    async def frob(ctx, rest):  # noqa: ANN001, ANN202
        """%frobnicate X  does things"""

    with pytest.raises(TypeError, match="starts with its usage, `%frob ...`"):
        line_magic(frob)

    async def body(ctx, rest, text):  # noqa: ANN001, ANN202
        """%body X  a line magic's usage on a cell magic"""

    with pytest.raises(TypeError, match="`%%body ...`"):
        cell_magic(body)


def test_a_magic_defined_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    (tmp_path / "twice_magics.py").write_text(
        "from skykernel.kernel.registry import line_magic\n"
        "@line_magic\nasync def use(ctx, rest):\n    '''%use X  again'''\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        magics = Magics(context=None, areas=(*AREAS, "twice_magics"))  # type: ignore[arg-type]
        with pytest.raises(TypeError, match="%use is defined twice"):
            magics.load()
    finally:
        sys.modules.pop("twice_magics", None)


def test_state_is_per_kernel() -> None:
    class Memory:
        def __init__(self) -> None:
            self.seen: list[str] = []

    one, two = registry(), registry()
    one.state(Memory).seen.append("x")
    assert one.state(Memory).seen == ["x"] and two.state(Memory).seen == []
