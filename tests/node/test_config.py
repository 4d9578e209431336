"""Tests for the skynet config loader (skykernel.node.config)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skykernel.node.config import ConfigError, default_config, load_config


@pytest.fixture
def cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Config paths are relative to the cwd in skynet, so run each test in tmp."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_plain_keys_and_conversions(cwd: Path) -> None:
    write(
        cwd / "main.cfg",
        'name = "node1"\nthread = 4\nratio = 1.5\nwhole = 8.0\n'
        "daemon = false\nprofile = true\nharbor = 0\nmy_custom = 'x'\n",
    )
    config = load_config("main.cfg", environ={})
    assert config.path == "main.cfg"
    assert config.values == {
        "name": "node1",
        "thread": "4",
        "ratio": "1.5",
        "whole": "8.0",  # Lua's tostring of a float, as skynet's env holds it
        "daemon": "false",
        "profile": "true",
        "harbor": "0",
        "my_custom": "x",
    }
    assert config.get("name") == "node1"
    assert config.get("nope") is None
    assert config.get("nope", "d") == "d"
    assert config.thread == 4
    assert config.harbor == 0
    assert config.ignored == []


def test_env_substitution_inside_strings_and_code(cwd: Path) -> None:
    write(
        cwd / "main.cfg",
        'root = "$GAME_ROOT/"\nthread = $THREADS\nlua_path = root.."lualib/?.lua"\n',
    )
    config = load_config("main.cfg", environ={"GAME_ROOT": "/srv/game", "THREADS": "2"})
    assert config.values["root"] == "/srv/game/"
    assert config.thread == 2
    assert config.lua_path == ["/srv/game/lualib/?.lua"]


def test_env_defaults_to_os_environ(cwd: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SKYKERNEL_TEST_ROOT", "/opt/x")
    write(cwd / "main.cfg", 'root = "$SKYKERNEL_TEST_ROOT"\n')
    assert load_config("main.cfg").values["root"] == "/opt/x"


def test_missing_env_var_names_variable_key_and_line(cwd: Path) -> None:
    write(cwd / "main.cfg", 'thread = 8\n-- comment\nroot = "$GAME_ROOT/x"\n')
    with pytest.raises(ConfigError) as info:
        load_config("main.cfg", environ={})
    message = str(info.value)
    assert message.startswith(
        "config main.cfg line 3: environment variable $GAME_ROOT is not set"
    )
    assert '"root"' in message


def test_missing_env_var_in_included_file(cwd: Path) -> None:
    write(cwd / "main.cfg", 'include "common.cfg"\n')
    write(cwd / "common.cfg", "a = 1\nb = $NOPE\n")
    with pytest.raises(
        ConfigError, match=r"config common.cfg line 2: environment variable \$NOPE"
    ):
        load_config("main.cfg", environ={})


def test_include_relative_to_cwd_and_nested(cwd: Path) -> None:
    write(
        cwd / "main.cfg", 'include "conf/common.cfg"\nstart = "game"\nb = base .. "!"\n'
    )
    write(cwd / "conf/common.cfg", 'base = "common"\ninclude "conf/deeper.cfg"\n')
    write(cwd / "conf/deeper.cfg", 'deep = "$WHO"\nthread = 2\n')
    config = load_config("main.cfg", environ={"WHO": "me"})
    assert config.values == {
        "base": "common",
        "deep": "me",
        "thread": "2",
        "start": "game",
        "b": "common!",
    }
    assert "include" not in config.values


def test_include_falls_back_to_including_files_directory(cwd: Path) -> None:
    write(cwd / "conf/main.cfg", 'include "sibling.cfg"\n')
    write(cwd / "conf/sibling.cfg", "x = 1\n")
    assert load_config("conf/main.cfg", environ={}).values == {"x": "1"}


def test_include_prefers_cwd(cwd: Path) -> None:
    write(cwd / "conf/main.cfg", 'include "other.cfg"\n')
    write(cwd / "conf/other.cfg", 'who = "dir"\n')
    write(cwd / "other.cfg", 'who = "cwd"\n')
    assert load_config("conf/main.cfg", environ={}).values["who"] == "cwd"


def test_include_missing_file(cwd: Path) -> None:
    write(cwd / "main.cfg", 'a = 1\ninclude "gone.cfg"\n')
    with pytest.raises(
        ConfigError, match="config main.cfg line 2: included file not found: gone.cfg"
    ):
        load_config("main.cfg", environ={})


def test_include_cycle(cwd: Path) -> None:
    write(cwd / "a.cfg", 'include "b.cfg"\n')
    write(cwd / "b.cfg", 'include "a.cfg"\n')
    with pytest.raises(ConfigError, match="includes itself"):
        load_config("a.cfg", environ={})


def test_absolute_include_and_long_paths(cwd: Path) -> None:
    deep = cwd / ("d" * 40) / ("e" * 40)
    other = write(deep / "other.cfg", "x = \n")
    write(cwd / "main.cfg", f'include "{other}"\n')
    with pytest.raises(ConfigError) as info:
        load_config("main.cfg", environ={})
    assert f"{other}:" in str(info.value)  # full path, not Lua's truncated "..." form


def test_missing_file() -> None:
    with pytest.raises(ConfigError, match="^config file not found: nowhere/main.cfg$"):
        load_config("nowhere/main.cfg", environ={})


def test_table_value_names_key(cwd: Path) -> None:
    write(cwd / "main.cfg", "a = 1\nx = { 1, 2 }\n")
    with pytest.raises(ConfigError) as info:
        load_config("main.cfg", environ={})
    assert str(info.value) == (
        'config key "x" has a table value; only strings, numbers and booleans are allowed'
    )


def test_function_value_names_key(cwd: Path) -> None:
    write(cwd / "main.cfg", "f = function() end\n")
    with pytest.raises(ConfigError, match='config key "f" has a function value'):
        load_config("main.cfg", environ={})


def test_include_is_not_a_value_and_sandbox_is_empty(cwd: Path) -> None:
    write(cwd / "main.cfg", "a = type(print)\n")
    with pytest.raises(ConfigError, match="main.cfg:1: attempt to call a nil value"):
        load_config("main.cfg", environ={})


def test_syntax_error_names_file_and_line(cwd: Path) -> None:
    write(cwd / "main.cfg", 'a = 1\nb = "ok"\nc = = 3\n')
    with pytest.raises(ConfigError, match=r"syntax error: main\.cfg:3:"):
        load_config("main.cfg", environ={})


def test_syntax_error_in_included_file(cwd: Path) -> None:
    write(cwd / "main.cfg", 'include "inc.cfg"\n')
    write(cwd / "inc.cfg", "\n\nx = (\n")
    with pytest.raises(ConfigError, match=r"inc\.cfg:\d+:"):
        load_config("main.cfg", environ={})


def test_runtime_error_names_file_and_line(cwd: Path) -> None:
    write(cwd / "main.cfg", 'a = 1\nb = missing .. "x"\n')
    with pytest.raises(ConfigError, match=r"main\.cfg:2: attempt to concatenate"):
        load_config("main.cfg", environ={})


def test_bad_thread_number(cwd: Path) -> None:
    write(cwd / "main.cfg", 'thread = "many"\n')
    with pytest.raises(ConfigError, match='config key "thread" must be an integer'):
        load_config("main.cfg", environ={})


def test_ignored_c_only_keys(cwd: Path) -> None:
    write(
        cwd / "main.cfg",
        'cpath = "c"\nlua_cpath = "lc"\nlualoader = "l"\nbootstrap = "snlua bootstrap"\n'
        'daemon = "./skynet.pid"\n',
    )
    config = load_config("main.cfg", environ={})
    assert sorted(config.ignored) == ["bootstrap", "cpath", "lua_cpath", "lualoader"]
    assert config.values["cpath"] == "c"  # still readable via getenv


def test_defaults(cwd: Path) -> None:
    write(cwd / "main.cfg", "")
    config = load_config("main.cfg", environ={})
    assert config.values == {}
    assert config.start == "main"
    assert config.luaservice == ["./service/?.lua"]
    assert config.lua_path == ["./lualib/?.lua", "./lualib/?/init.lua"]
    assert config.snax == ["./service/?.lua"]
    assert config.preload is None
    assert config.logger is None
    assert config.logservice == "logger"
    assert config.thread == 8
    assert config.harbor == 1
    env = config.skynet_env()
    assert env["harbor"] == "1"
    assert env["thread"] == "8"
    assert env["bootstrap"] == "snlua bootstrap"


def test_snax_follows_luaservice_when_unset(cwd: Path) -> None:
    write(cwd / "main.cfg", 'luaservice = "./svc/?.lua;;./more/?.lua;"\n')
    config = load_config("main.cfg", environ={})
    assert config.luaservice == ["./svc/?.lua", "./more/?.lua"]
    assert config.snax == ["./svc/?.lua", "./more/?.lua"]


def test_default_config() -> None:
    config = default_config()
    assert config.path == "<default>"
    assert config.values == {}
    assert config.ignored == []
    assert config.start is None
    assert config.luaservice == ["./service/?.lua"]
    config = default_config(start="hello", thread="2", cpath="x")
    assert config.start == "hello"
    assert config.thread == 2
    assert config.ignored == ["cpath"]
    with pytest.raises(ConfigError):
        default_config(harbor="abc")


SKYNET_EXAMPLE = """\
root = "./"
thread = 8
logger = nil
harbor = 0
start = "main"
bootstrap = "snlua bootstrap"
luaservice = root.."service/?.lua;"..root.."test/?.lua;"..root.."examples/?.lua"
lualoader = root .. "lualib/loader.lua"
lua_path = root.."lualib/?.lua;"..root.."lualib/?/init.lua"
lua_cpath = root .. "luaclib/?.so"
snax = root.."examples/?.lua;"..root.."test/?.lua"
cpath = root.."cservice/?.so"
"""


def test_real_skynet_example_config(cwd: Path) -> None:
    write(cwd / "examples/config", SKYNET_EXAMPLE)
    config = load_config("examples/config", environ={})
    assert "logger" not in config.values
    assert config.logger is None
    assert config.values["root"] == "./"
    assert config.values["thread"] == "8"
    assert config.thread == 8
    assert config.harbor == 0
    assert config.start == "main"
    assert config.luaservice == ["./service/?.lua", "./test/?.lua", "./examples/?.lua"]
    assert config.lua_path == ["./lualib/?.lua", "./lualib/?/init.lua"]
    assert config.snax == ["./examples/?.lua", "./test/?.lua"]
    assert config.values["lualoader"] == "./lualib/loader.lua"
    assert sorted(config.ignored) == ["bootstrap", "cpath", "lua_cpath", "lualoader"]


def test_absolute_config_path(tmp_path: Path) -> None:
    path = write(tmp_path / "abs.cfg", "x = 1\n")
    config = load_config(os.fspath(path), environ={})
    assert config.values == {"x": "1"}
    assert config.path == os.fspath(path)
