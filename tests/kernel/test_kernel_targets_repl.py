"""A cell as a REPL's, on every target (the in-process node, a `skykernel run` node, real
skynet master and 1.8): top-level locals carry over, `_` is the last value, errors name
the cell, the cell's io and display are the notebook's, and a patch that reads a global
where the old handler had an upvalue gets a hint. Remote cells carry the same RUN
(skynet/inject.lua) inside the chunk, so they behave the same, except where only the
in-process node can reach the kernel (io.read, a callee's log line)."""

from __future__ import annotations

import json

from test_targets import Client, client, result, shown, text  # noqa: F401 - client: fixture


def test_top_level_locals_carry_over_and_underscore_is_the_last_value(client: Client) -> None:
    client.ok("local skynet = require 'skynet'\nlocal zq_a, zq_b = 20, 1\n"
              "do local zq_inner = 'scoped' end")
    assert result(client.ok("zq_a + zq_b + (skynet.self() > 0 and 1 or 0)")) == "22"
    assert result(client.ok("zq_inner")) == "nil"  # a block's locals stay in their block
    assert result(client.ok("return 7, 8")) == "7\t8"
    assert result(client.ok("_ * 2")) == "14"
    # a failing cell keeps none of its locals (its frame is gone when it fails)
    client.error("local zq_failed = 1\nerror('stop')")
    assert result(client.ok("zq_failed")) == "nil"


def test_errors_name_the_cell_and_line(client: Client) -> None:
    reply = client.error("local t = nil\nreturn t.x")
    cell = f"cell[{reply['execution_count']}]"
    assert reply["evalue"].startswith(f"{cell}:2: attempt to index a nil value")
    assert reply["traceback"][-1] == f"\t{cell}:2: in main chunk"


def test_io_os_execute_and_display_go_to_the_cell_in_order(client: Client) -> None:
    out = client.ok('print("one")\nio.write("two", 2, "\\n")\nio.stdout:write("three\\n")\n'
                    'io.stderr:write("four\\n")\ndisplay.html("<b>five</b>")\n'
                    'os.execute("echo six; echo seven >&2")\nprint("eight")')
    seen = []
    for m in out:
        if m["msg_type"] == "stream":
            seen.append((m["content"]["name"], m["content"]["text"]))
        elif m["msg_type"] == "display_data":
            seen.append(("display", m["content"]["data"]["text/html"]))
    assert seen == [("stdout", "one\ntwo2\nthree\n"), ("stderr", "four\n"),
                    ("display", "<b>five</b>"), ("stdout", "six\nseven\neight\n")]


def test_display_kinds(client: Client) -> None:
    png = "\\137PNG\\r\\n\\26\\n" + "\\0" * 8
    out = client.ok(f'display.markdown("*m*")\ndisplay.json({{a = {{1, 2}}}})\n'
                    f'display.image("{png}")\ndisplay({{["text/csv"] = "a,b"}})\n'
                    'display({1, 2})')
    data = shown(out)
    assert data[0]["text/markdown"] == "*m*"
    assert data[1]["application/json"] == {"a": [1, 2]}
    assert data[2]["image/png"] == "iVBORw0KGgoAAAAAAAAAAA=="  # base64 of the bytes
    assert data[3] == {"text/csv": "a,b", "text/plain": "<text/csv>"}
    assert data[4] == {"text/plain": "{ 1, 2 }"}
    reply = client.error('display.image("not an image")')
    assert "not a png, jpeg, gif or svg image" in reply["evalue"]
    reply = client.error('display.bundle({["bad key"] = 1})')
    assert "display: bad key is not a MIME type" in reply["evalue"]


def test_io_read_asks_the_front_end_only_where_it_can(client: Client) -> None:
    kc = client.kc
    msg_id = kc.execute('print("before")\nio.write("Name? ")\nreturn io.read(), io.read("n")',
                        allow_stdin=True, stop_on_error=False)
    if client.remote:  # a remote cell cannot reach the kernel while it runs
        reply = _reply(kc, msg_id)
        assert reply["status"] == "error"
        assert reply["evalue"].startswith("io.read: no notebook to ask for input here")
        return
    prompts = []
    for answer in ("Ann", "42"):
        request = kc.get_stdin_msg(timeout=60)
        assert request["msg_type"] == "input_request"
        prompts.append(request["content"]["prompt"])
        kc.input(answer)
    reply = _reply(kc, msg_id)
    assert reply["status"] == "ok", reply
    assert prompts == ["Name? ", ""]  # the unfinished line is the prompt
    out = _iopub(kc, msg_id)
    assert text(out) == "before\n"  # shown before the input box, not after
    assert result(out) == '"Ann"\t42'
    # a front end that takes no input: a clear error, no wait
    msg_id = kc.execute("return io.read()", allow_stdin=False, stop_on_error=False)
    reply = _reply(kc, msg_id)
    assert reply["evalue"].startswith("io.read: this front end does not take input")


def _reply(kc, msg_id: str) -> dict:
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    return reply["content"]


def _iopub(kc, msg_id: str) -> list[dict]:
    out = []
    while True:
        msg = kc.get_iopub_msg(timeout=60)
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            return out
        out.append(msg)


def test_a_patch_reading_a_global_where_the_handler_had_an_upvalue_gets_a_hint(
        client: Client) -> None:
    client.ok('%call .agent lua "set", "kept"')
    out = client.ok("_P.lua.CMD.get = function() return stored end")
    hint = text(out, "stderr")
    assert hint.startswith("hint: _P.lua.CMD.get now reads a global `stored`")
    assert "%upvalues" in hint and "stored" in hint
    out = client.ok("%upvalues stored")
    homes = text(out)
    assert "stored is not a global" in homes
    assert '_P.lua.CMD.get (before a cell replaced it)  upvalue' in homes
    assert 'stored = "kept"' in homes
    client.ok("%undo")
    assert result(client.ok('%call .agent lua "get"')) == '"kept"'


def test_a_failed_call_is_one_clean_error(client: Client) -> None:
    reply, out = client.run('%call .agent lua "nosuch"')
    assert reply["status"] == "error" and reply["ename"] == "CallError", reply
    errors = [m for m in out if m["msg_type"] == "error"]
    assert len(errors) == 1
    assert "Traceback" not in "".join(reply["traceback"])
    if client.remote:
        assert "call failed" in reply["evalue"] and "its log on game1" in reply["evalue"]
    else:  # the callee's own message, once: its log line is folded into the error
        assert reply["evalue"].endswith("nosuch") and "agent.lua" in reply["evalue"]
        assert not any('class="sk-log"' in m["content"].get("data", {}).get("text/html", "")
                       and "nosuch" in m["content"]["data"]["text/plain"] for m in out
                       if m["msg_type"] in ("display_data", "update_display_data"))


def test_user_expressions_are_evaluated_in_the_session(client: Client) -> None:
    client.ok("zq_expr = {1, 2, 3}")
    msg_id = client.kc.execute("zq_expr[1]", user_expressions={
        "n": "#zq_expr", "bad": "nosuch.field", "text": "'a' .. 'b'"})
    reply = client.kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = client.kc.get_shell_msg(timeout=60)
    found = reply["content"]["user_expressions"]
    assert found["n"] == {"status": "ok", "data": {"text/plain": "3"}, "metadata": {}}
    assert found["text"]["data"]["text/plain"] == '"ab"'
    assert found["bad"]["status"] == "error" and "nosuch" in found["bad"]["evalue"]
    json.dumps(found)  # plain data, as the protocol carries it
