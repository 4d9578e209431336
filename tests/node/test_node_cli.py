"""`skykernel run CONFIG`: a headless node from a source checkout, log on stdout."""

from __future__ import annotations

from pathlib import Path

from conftest import SERVICES, Tree, run_cli


def test_run_a_service_tree_until_every_service_exits() -> None:
    result = run_cli("run", "config", cwd=SERVICES / "basic")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "[:00000000] config key lualoader is ignored (it only matters to C skynet)"
    assert "[:00000008] LAUNCH snlua main" in lines
    assert "[:00000008] main says hello" in lines
    assert "[:00000009] LAUNCH snlua echo" in lines
    assert "[:00000008] echo replied ping 1" in lines
    fired = [ln for ln in lines if ln.startswith("[:00000008] in ")]
    assert fired == ["[:00000008] in 1", "[:00000008] in 2", "[:00000008] in 3"]
    assert "[:00000009] KILL self" in lines
    # services run on two workers: their exits come in any order, after everything else
    assert sorted(lines[-3:]) == ["[:00000002] KILL self", "[:00000008] KILL self",
                                  "[:00000009] KILL self"]


def test_abort_ends_the_run(tree: Tree) -> None:
    tree.write({
        "config": 'start = "main"\nharbor = 0\n',
        "service/main.lua": 'local skynet = require "skynet"\nrequire "skynet.manager"\n'
                            'skynet.start(function() skynet.error("bye") skynet.abort() end)\n',
    })
    result = run_cli("run", "config", cwd=tree.root)
    assert result.returncode == 0, result.stderr
    assert "[:00000008] bye" in result.stdout.splitlines()
    assert "[:00000008] abort" in result.stdout.splitlines()


def test_config_with_table_value_is_refused(tree: Tree) -> None:
    tree.write({"config": 'start = "main"\nbad = { 1, 2 }\n'})
    result = run_cli("run", "config", cwd=tree.root)
    assert result.returncode == 2
    assert 'config key "bad" has a table value' in result.stderr
    assert result.stdout == ""


def test_config_with_missing_env_var_is_refused(tree: Tree) -> None:
    tree.write({"config": 'start = "main"\nroot = "$SKYKERNEL_SURELY_UNSET_VAR"\n'})
    result = run_cli("run", "config", cwd=tree.root)
    assert result.returncode == 2
    assert "$SKYKERNEL_SURELY_UNSET_VAR is not set" in result.stderr
    assert 'key "root"' in result.stderr


def test_missing_config_file(tmp_path: Path) -> None:
    result = run_cli("run", "nope.cfg", cwd=tmp_path)
    assert result.returncode == 2
    assert "nope.cfg" in result.stderr


def test_user_paths_cannot_shadow_skynet_library(tree: Tree) -> None:
    tree.write({
        "config": 'start = "main"\nharbor = 0\nlua_path = "./lualib/?.lua"\n',
        "lualib/skynet.lua": 'error("the user copy of skynet.lua must not load")\n',
        "lualib/mine.lua": 'return { name = "mine" }\n',
        "service/main.lua": 'local skynet = require "skynet"\nlocal mine = require "mine"\n'
                            'skynet.start(function() skynet.error("module", mine.name) '
                            'skynet.exit() end)\n',
    })
    result = run_cli("run", "config", cwd=tree.root)
    assert result.returncode == 0, result.stderr
    assert "[:00000008] module mine" in result.stdout.splitlines()


def test_a_start_service_that_fails_ends_the_run_with_an_error(tree: Tree) -> None:
    tree.write({
        "config": 'start = "main"\nharbor = 0\n',
        "service/main.lua": 'local skynet = require "skynet"\n'
                            'skynet.start(function() error("cannot start") end)\n',
    })
    result = run_cli("run", "config", cwd=tree.root)
    assert result.returncode == 1, result.stdout
    lines = result.stdout.splitlines()
    assert "[:00000002] abort" in lines
    assert any("start service main failed" in ln for ln in lines)


LOOPING = (
    'local skynet = require "skynet"\n'
    'skynet.start(function()\n'
    '  skynet.dispatch("lua", function() end)\n'
    '  skynet.timeout(1, function()\n'
    '    skynet.error("looping")\n'
    '    while true do end\n'
    '  end)\n'
    '  skynet.timeout(1, function() skynet.error("tick") end)\n'
    'end)\n'
)


def test_ctrl_c_stops_the_loop_and_a_second_one_ends_the_node(tree: Tree) -> None:
    """The first SIGINT interrupts the running handler, which logs the error and whose
    service keeps serving; a second within 2 s ends the node."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import lupa
    from conftest import ROOT

    tree.write({"config": 'start = "main"\nharbor = 0\nthread = 2\n',
                "service/main.lua": LOOPING})
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(Path(lupa.__file__).parent.parent)])
    proc = subprocess.Popen([sys.executable, "-S", "-m", "skykernel", "run", "config"],
                            cwd=tree.root, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    lines: list[str] = []

    def read_until(text: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if text in line:
                return
        raise AssertionError(f"no {text!r} in:\n" + "\n".join(lines))

    try:
        read_until("looping")
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        read_until("interrupted")
        # the handler's error is logged with its text and the loop's position
        read_until("main.lua:6: interrupted")
        time.sleep(2.5)  # a second Ctrl-C long after the first only interrupts again
        proc.send_signal(signal.SIGINT)
        read_until("Ctrl-C: interrupted")
        proc.send_signal(signal.SIGINT)
        read_until("second Ctrl-C")
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
