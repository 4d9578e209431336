"""What a view costs on the wire, counted over real ZeroMQ with jupyter_client: each view
is one widget, so a cell that shows one opens exactly one comm and sends no comm message
after it; a request from the front end (expand a node, refresh, clear) is one message in
and one reply out, on that comm. (Each view used to be an ipywidgets composite: a button,
layout and style per row, about a hundred comms for %services.)"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import run
from test_views_kernel import COUNTER

BIG = "big = {} for i = 1, 300 do big['k' .. i] = {i} end"


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("comms")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    try:
        for cell in (COUNTER, "%newservice counter", '%call .counter lua "inc", 2', BIG):
            assert run(kc, cell)[0]["status"] == "ok", cell
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def wire(outputs: list[dict[str, Any]]) -> dict[str, int]:
    return {"comm_open": sum(m["msg_type"] == "comm_open" for m in outputs),
            "comm_msg": sum(m["msg_type"] == "comm_msg" for m in outputs),
            "bytes": sum(len(json.dumps(m["content"])) for m in outputs)}


@pytest.mark.parametrize("cell", ["%services", "%upvalues big", "%upvalues .counter",
                                  "%protocols .counter", "%codecache"])
def test_a_view_is_one_comm_and_no_message_after_it(kernel, cell: str) -> None:
    reply, out = run(kernel, cell)
    assert reply["status"] == "ok"
    counts = wire(out)
    assert counts["comm_open"] == 1 and counts["comm_msg"] == 0, counts
    (shown,) = [m for m in out if m["msg_type"] == "display_data"]
    opened = next(m for m in out if m["msg_type"] == "comm_open")
    model = shown["content"]["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
    assert model == opened["content"]["comm_id"]  # the displayed widget is that comm
    assert opened["content"]["data"]["state"]["layout"] is None  # no Layout widget either


def test_the_300_entry_table_comes_in_one_message(kernel) -> None:
    _, out = run(kernel, "%upvalues big")
    opened = next(m for m in out if m["msg_type"] == "comm_open")
    nodes = opened["content"]["data"]["state"]["data"]["nodes"]
    root = next(n for n in nodes if n["path"] == [])
    assert root["total"] == 300 and len(root["rows"]) == 200  # one page, then "more"
    assert wire(out)["bytes"] < 150_000  # the widget composite sent about 290 KB


def test_a_request_is_one_message_each_way(kernel) -> None:
    _, out = run(kernel, "%upvalues big")
    comm_id = next(m for m in out if m["msg_type"] == "comm_open")["content"]["comm_id"]
    for op, payload in (("expand", {"path": ["sk1"]}), ("more", {"path": []}),
                        ("refresh", {})):
        kernel.session.send(kernel.shell_channel.socket, "comm_msg", {
            "comm_id": comm_id,
            "data": {"method": "custom", "content": {"op": op, "id": op, **payload}}})
        replies, deadline = [], time.time() + 60
        while not replies and time.time() < deadline:
            msg = kernel.get_iopub_msg(timeout=60)
            if msg["msg_type"] == "comm_msg" and msg["content"]["comm_id"] == comm_id:
                replies.append(msg)
            elif msg["msg_type"] == "comm_open":
                raise AssertionError(f"{op} opened another comm")
        (answer,) = replies
        content = answer["content"]["data"]["content"]
        assert content["op"] == "reply" and content["id"] == op and "error" not in content
        # nothing else follows on that comm for this request
        time.sleep(0.5)
        while True:
            try:
                extra = kernel.get_iopub_msg(timeout=0.5)
            except Exception:  # noqa: BLE001 - queue.Empty: nothing more
                break
            assert not (extra["msg_type"] == "comm_msg"
                        and extra["content"]["comm_id"] == comm_id), (op, extra)
    assert content["status"].startswith("refreshed")
