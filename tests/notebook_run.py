"""Running a notebook of notebooks/ with nbclient against the real kernel, and reading
its outputs back: what every notebook test does."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def execute(name: str, tmp_path: Path) -> nbformat.NotebookNode:
    """Execute a copy in its own folder (its %%service files land there), widgets saved."""
    work = tmp_path / name
    work.mkdir()
    shutil.copy(NOTEBOOKS / name, work / name)
    nb = nbformat.read(work / name, as_version=4)
    client = NotebookClient(nb, kernel_name="skynet", timeout=120, allow_errors=True,
                            store_widget_state=True, resources={"metadata": {"path": str(work)}})
    client.execute()
    return nb


def outputs(cell: nbformat.NotebookNode, kind: str = "stdout") -> str:
    """stdout/stderr streams, `result` (execute_result), `display` (display_data text),
    `log` (the node's log lines: muted display data), or `error`."""
    parts = []
    for out in cell.get("outputs", []):
        is_log = out["output_type"] == "display_data" and is_log_block(out["data"])
        if out["output_type"] == "stream" and out["name"] == kind:
            parts.append(out["text"])
        elif kind == "result" and out["output_type"] == "execute_result":
            parts.append(out["data"]["text/plain"])
        elif kind == "log" and is_log:
            parts.append(out["data"]["text/plain"] + "\n")
        elif kind == "display" and out["output_type"] == "display_data" and not is_log:
            parts.append(out["data"].get("text/plain", ""))
        elif kind == "error" and out["output_type"] == "error":
            parts.append(f"{out['ename']}: {out['evalue']}")
    return "".join(parts)


def is_log_block(data: dict) -> bool:
    """Log lines are display data with a muted text/html form (class sk-log)."""
    return 'class="sk-log"' in data.get("text/html", "")


def raises(cell: nbformat.NotebookNode) -> bool:
    """Tagged `raises-exception`: an error on purpose, past which Run All goes on."""
    return "raises-exception" in cell.get("metadata", {}).get("tags", [])


def errors_match_tags(nb: nbformat.NotebookNode) -> list[str]:
    """Cells whose error and tag disagree (an untagged error stops Run All in JupyterLab;
    a tagged cell that no longer fails teaches nothing): empty when all agree."""
    return [c.source.split("\n")[0] for c in nb.cells if c.cell_type == "code"
            and raises(c) != any(o["output_type"] == "error" for o in c.get("outputs", []))]


def code_cells(nb: nbformat.NotebookNode, start: str) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start)]


def by_source(nb: nbformat.NotebookNode, start: str, nth: int = 0) -> nbformat.NotebookNode:
    return code_cells(nb, start)[nth]
