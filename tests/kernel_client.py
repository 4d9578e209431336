"""Talking to a kernel over real ZeroMQ the way a front end does: run a cell, then read
what came back (its stdout, its muted log lines, its shown value). Shared by the kernel,
remote and views tests."""

from __future__ import annotations

from typing import Any


def run(kc: Any, code: str, timeout: float = 60) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Execute; return the reply content and the iopub messages of that request."""
    msg_id = kc.execute(code)
    reply = kc.get_shell_msg(timeout=timeout)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=timeout)
    outputs = []
    while True:
        msg = kc.get_iopub_msg(timeout=timeout)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
        outputs.append(msg)
    return reply["content"], outputs


def text(outputs: list[dict[str, Any]], name: str = "stdout") -> str:
    return "".join(m["content"]["text"] for m in outputs
                   if m["msg_type"] == "stream" and m["content"]["name"] == name)


def logs(outputs: list[dict[str, Any]]) -> str:
    """The log lines shown (muted display data, updated in place as lines come)."""
    blocks: dict[str, str] = {}
    for m in outputs:
        if m["msg_type"] in ("display_data", "update_display_data"):
            data = m["content"]["data"]
            if 'class="sk-log"' in data.get("text/html", ""):
                blocks[m["content"]["transient"]["display_id"]] = data["text/plain"]
    return "\n".join(blocks.values())


def result(outputs: list[dict[str, Any]]) -> str | None:
    for m in outputs:
        if m["msg_type"] == "execute_result":
            return m["content"]["data"]["text/plain"]
    return None
