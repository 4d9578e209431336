"""Jupyter's conventions, over real ZeroMQ (jupyter_client), as ipykernel keeps them:
kernel_info's help links, the magics people expect (%time, %lsmagic, %env, %load, `?`,
`??`), %help as display data, inspection and completion, display from a service, input
that the stop button ends; and the kernelspecs (logos, docs page, ipykernel's install
options)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.manager import start_new_kernel
from kernel_client import logs, result, run, text

from skykernel import cli, logo
from skykernel.install import KERNELS, docs_html, kernel_spec

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory: pytest.TempPathFactory):
    cwd = tmp_path_factory.mktemp("conventions")
    km, kc = start_new_kernel(kernel_name="skynet", cwd=str(cwd))
    kc.cwd = Path(cwd)  # type: ignore[attr-defined]
    kc._km = km  # type: ignore[attr-defined]
    try:
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def request(kc: Any, send: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
    msg_id = send(*args, **kwargs)
    reply = kc.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kc.get_shell_msg(timeout=60)
    return reply["content"]


def displayed(out: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m["content"]["data"] for m in out if m["msg_type"] == "display_data"
            and 'class="sk-log"' not in m["content"]["data"].get("text/html", "")]


# --- kernel_info ---------------------------------------------------------------------------


def test_kernel_info_links_the_lua_manual_skynets_wiki_and_our_docs(kernel):
    info = request(kernel, kernel.kernel_info)
    links = {link["text"]: link["url"] for link in info["help_links"]}
    lua = info["language_info"]["version"]
    assert links[f"Lua {lua} Reference Manual"] == f"https://www.lua.org/manual/{lua}/"
    assert links["skynet wiki"] == "https://github.com/cloudwu/skynet/wiki"
    assert links["skykernel docs"] == "/kernelspecs/skynet/docs.html"
    assert info["language_info"]["name"] == "lua"


# --- magics people expect ------------------------------------------------------------------


def test_time_and_cell_time_run_the_code_and_say_how_long(kernel):
    reply, out = run(kernel, "%time require('skynet').sleep(20)")
    assert reply["status"] == "ok", reply
    shown = text(out).strip()
    assert shown.startswith("Wall time: ")
    value, unit = shown.split()[2:4]
    assert unit in ("ms", "s") and (unit == "s" or float(value) >= 150)  # slept 0.2 s
    reply, out = run(kernel, "%%time\nprint('in the cell')\n%lsmagic")
    assert reply["status"] == "ok", reply
    lines = text(out).splitlines()
    assert lines[0] == "in the cell" and lines[1] == "line magics:"
    assert lines[-1].startswith("Wall time: ")
    reply, out = run(kernel, "%time error('inside')")  # the timed code's error, and the time
    assert reply["status"] == "error" and "inside" in reply["evalue"]
    assert text(out).startswith("Wall time: ")


def test_lsmagic_lists_every_magic(kernel):
    _, out = run(kernel, "%lsmagic")
    listing = text(out)
    line_part, cell_part = listing.split("cell magics:")
    for name in ("%use", "%call", "%time", "%env", "%load", "%help", "%lsmagic", "%upvalues"):
        assert name in line_part.split()
    for name in ("%%service", "%%time", "%%hotfix", "%%python"):
        assert name in cell_part.split()


def test_env_lists_gets_and_sets_what_lua_sees(kernel):
    _, out = run(kernel, "%env ZQ_CONVENTION=set here")
    assert text(out) == "env: ZQ_CONVENTION=set here\n"
    _, out = run(kernel, "%env ZQ_CONVENTION")
    assert text(out) == "set here\n"
    assert result(run(kernel, "os.getenv('ZQ_CONVENTION')")[1]) == '"set here"'
    assert "ZQ_CONVENTION=set here" in text(run(kernel, "%env")[1]).splitlines()
    reply, _ = run(kernel, "%env ZQ_NOT_SET_ANYWHERE")
    assert reply["status"] == "error" and reply["evalue"] == "%env: ZQ_NOT_SET_ANYWHERE is not set"


def test_load_puts_a_file_in_the_cell_ready_to_save_again(kernel):
    run(kernel, "%%service loadme\nlocal skynet = require 'skynet'\nskynet.start(function() end)")
    reply, out = run(kernel, "%load service/loadme.lua")
    assert reply["status"] == "ok" and not [m for m in out if m["msg_type"] == "error"]
    (payload,) = reply["payload"]
    assert payload == {"source": "set_next_input", "replace": True,
                       "text": "%%service loadme\nlocal skynet = require 'skynet'\n"
                               "skynet.start(function() end)\n"}
    (kernel.cwd / "plain.lua").write_text("return 1\n")
    reply, _ = run(kernel, "%load plain.lua")
    assert reply["payload"][0]["text"] == "-- %load plain.lua\nreturn 1\n"
    reply, _ = run(kernel, "%load nosuch.lua")
    assert reply["status"] == "error" and reply["evalue"].startswith("%load: no file nosuch.lua")
    reply, _ = run(kernel, "%load service")  # a folder: a clear refusal
    assert reply["status"] == "error" and reply["evalue"].startswith("%load: cannot read")


def test_help_is_display_data_in_the_cell(kernel):
    reply, out = run(kernel, "%help")
    assert reply["payload"] == []  # not only a pager: nbconvert and Voila show the cell
    (shown,) = displayed(out)
    assert "%use ADDR" in shown["text/plain"] and "%lsmagic" in shown["text/plain"]
    _, out = run(kernel, "%help time")
    assert displayed(out)[0]["text/plain"].startswith("%time CODE")
    reply, _ = run(kernel, "%help nosuch")
    assert reply["status"] == "error" and "%lsmagic" in reply["evalue"]


def test_question_marks_show_what_a_name_is_and_its_source(kernel):
    run(kernel, "function zq_add(a, b)\n  return a + b\nend")
    reply, _ = run(kernel, "zq_add?")
    page = reply["payload"][0]["data"]["text/plain"]
    assert page.splitlines()[:2] == ["zq_add : function", "zq_add(a, b)"]
    assert "return a + b" not in page
    reply, _ = run(kernel, "zq_add??")
    page = reply["payload"][0]["data"]["text/plain"]
    assert "function zq_add(a, b)\n  return a + b\nend" in page  # from the cell's history
    reply, _ = run(kernel, "?require('skynet').call")  # not a name: Lua, an error
    assert reply["status"] == "error"
    reply, _ = run(kernel, "%call?")
    assert reply["payload"][0]["data"]["text/plain"].startswith("%call ADDR PROTO")
    reply, _ = run(kernel, "zq_nothing?")
    assert reply["status"] == "error" and reply["evalue"].startswith("zq_nothing is nil")


def test_an_unknown_cell_magic_is_one_line_too(kernel):
    reply, _ = run(kernel, "%%servic x\nreturn 1")
    assert reply["evalue"] == ("unknown cell magic %%servic; did you mean %%service? "
                               "(%lsmagic lists them, %help NAME explains one)")


# --- inspection and completion -------------------------------------------------------------


def test_inspect_shows_a_signature_not_upvalue_dumps(kernel):
    code = "local skynet = require 'skynet'\nskynet.call("
    found = request(kernel, kernel.inspect, code, len(code))
    assert found["found"]
    lines = found["data"]["text/plain"].splitlines()
    assert lines[0] == "skynet.call : function"
    assert lines[1] == "skynet.call(addr, typename, ...)"
    assert lines[2].startswith("defined at ") and "skynet.lua:" in lines[2]
    assert len(lines) == 3 and "upvalue" not in found["data"]["text/plain"]
    source = request(kernel, kernel.inspect, "skynet.call", 8, detail_level=1)
    assert "function skynet.call(addr, typename, ...)" in source["data"]["text/plain"]


def test_inspect_says_not_found_for_nil(kernel):
    for code in ("zq_never_set", "string.nosuch", "", "   "):
        found = request(kernel, kernel.inspect, code, len(code))
        assert found == {"status": "ok", "found": False, "data": {}, "metadata": {}}, code


def test_completion_ranks_what_learners_use_and_knows_the_cells_requires(kernel):
    code = "local skynet = require 'skynet'\nskynet."  # the cell has not run
    reply = request(kernel, kernel.complete, code, len(code))
    matches = reply["matches"]
    assert matches[:3] == ["call", "send", "newservice"]
    first_constant = min(i for i, m in enumerate(matches) if m.startswith("PTYPE_"))
    assert first_constant > matches.index("dispatch")
    assert "exit" in matches  # skynet.lua's lazily loaded API too
    types = reply["metadata"]["_jupyter_types_experimental"]
    assert types[0] == {"start": len(code), "end": len(code), "text": "call",
                        "type": "function"}
    code = "local dc = require 'skynet.datacenter'\ndc.g"
    assert request(kernel, kernel.complete, code, len(code))["matches"] == ["get"]
    assert request(kernel, kernel.complete, "%lsm", 4)["matches"] == ["%lsmagic"]


# --- display from a service, input and the stop button -------------------------------------


def test_a_service_displays_through_the_kernel(kernel):
    run(kernel, "%%service shower\nlocal skynet = require 'skynet'\n"
                "local display = require 'skykernel.display'\n"
                "skynet.start(function()\n"
                "  skynet.dispatch('lua', function()\n"
                "    display.html('<i>from a service</i>')\n"
                "    skynet.ret(skynet.pack('shown'))\n"
                "  end)\n"
                "end)")
    _, out = run(kernel, "%newservice shower")
    address = text(out).split()[0]
    reply, out = run(kernel, f"%call {address} lua 'go'")
    assert result(out) == '"shown"'
    assert {"text/html": "<i>from a service</i>", "text/plain": "<HTML>"} in displayed(out)


def test_the_stop_button_ends_a_wait_for_input(kernel):
    msg_id = kernel.execute("return io.read()", allow_stdin=True, stop_on_error=False)
    assert kernel.get_stdin_msg(timeout=60)["msg_type"] == "input_request"
    time.sleep(0.2)
    kernel._km.interrupt_kernel()
    reply = kernel.get_shell_msg(timeout=60)
    while reply["parent_header"].get("msg_id") != msg_id:
        reply = kernel.get_shell_msg(timeout=60)
    assert reply["content"]["status"] == "error"
    assert reply["content"]["ename"] == "KeyboardInterrupt"
    assert result(run(kernel, "return 'alive'")[1]) == '"alive"'


def test_log_lines_of_a_busy_service_stay_bounded_blocks(kernel):
    _, out = run(kernel, "local skynet = require 'skynet'\n"
                         "for i = 1, 450 do skynet.error('line ' .. i) end")
    shown = logs(out)
    assert "] line 1\n" in shown and shown.endswith("] line 450")
    ids = {m["content"]["transient"]["display_id"] for m in out
           if m["msg_type"] in ("display_data", "update_display_data")}
    assert len(ids) == 3  # 200 lines a block: a chatty service costs the page little


# --- kernelspecs ---------------------------------------------------------------------------


def test_shipped_logos_are_the_drawing(tmp_path):
    for name, (_, lua) in KERNELS.items():
        folder = ROOT / "share" / "jupyter" / "kernels" / name
        for file, data in logo.files(lua or "5.4").items():
            assert (folder / file).read_bytes() == data, f"{name}/{file}: run skykernel/logo.py"
    png = logo.png(32)
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and png[16:24] == bytes.fromhex(
        "0000002000000020")  # 32 x 32
    assert logo.svg("5.5") != logo.svg("5.4")  # each version its colour


def test_install_takes_ipykernels_options(tmp_path, capsys):
    assert cli.main(["install", "--prefix", str(tmp_path), "--name", "mine",
                     "--display-name", "My skynet", "--lua", "5.5",
                     "--env", "GAME", "cards", "--env", "SKYKERNEL_X", "1"]) == 0
    where = Path(capsys.readouterr().out.strip())
    assert where.name == "mine"
    spec = json.loads((where / "kernel.json").read_text())
    assert spec["display_name"] == "My skynet"
    assert spec["argv"][1:4] == ["-m", "skykernel.kernel", "--lua=5.5"]
    assert spec["env"] == {"GAME": "cards", "SKYKERNEL_X": "1"}
    assert sorted(p.name for p in where.iterdir()) == [
        "docs.html", "kernel.json", "logo-32x32.png", "logo-64x64.png", "logo-svg.svg"]
    assert (where / "logo-svg.svg").read_text() == logo.svg("5.5")
    # both, by default, as shipped
    assert cli.main(["install", "--prefix", str(tmp_path / "both")]) == 0
    both = [Path(p) for p in capsys.readouterr().out.split()]
    assert [p.name for p in both] == ["skynet", "skynet-lua55"]
    assert json.loads((both[0] / "kernel.json").read_text())["argv"][1:] == [
        "-m", "skykernel.kernel", "-f", "{connection_file}"]
    assert kernel_spec("python", "mine", lua="5.4")["display_name"] == "Skynet (Lua 5.4)"


def test_docs_page_has_every_doc():
    page = docs_html()
    for doc in sorted((ROOT / "docs").glob("*.md")):
        assert f'id="{doc.stem}"' in page
    assert 'id="README"' in page and "<pre>" in page
    assert "%%service NAME" in page  # the README's text, as written


def test_pyproject_declares_what_is_imported_and_packs_the_docs():
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    meta = project["project"]
    assert any(d.startswith("jupyter_client") for d in meta["dependencies"])
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert "Framework :: Jupyter" in meta["classifiers"]
    assert meta["urls"]
    sdist = project["tool"]["hatch"]["build"]["targets"]["sdist"]["include"]
    assert "docs" in sdist and "LICENSE" in sdist
    assert "docs" in project["tool"]["hatch"]["build"]["targets"]["wheel"]["force-include"]


def test_make_lab_defaults_new_notebooks_to_skynet():
    makefile = (ROOT / "Makefile").read_text()
    assert "--MappingKernelManager.default_kernel_name=skynet" in makefile
    ignored = (ROOT / "notebooks" / ".gitignore").read_text().split()
    assert {"service/", "lualib/", "remote.config"} <= set(ignored)
