"""Reading real skynet's console answers (facts from skynet v1.8 / master transcripts)."""

from __future__ import annotations

import pytest

from skykernel.remote import parse
from skykernel.remote.cell import read_output, wrap

# Answers as real skynet prints them (reference/skynet.md): `list` is address<TAB>launch
# line, `mem` address<TAB>"%.2f Kb (launch line)", `stat` address<TAB>sorted k:v fields.
LIST = [":00000004\tsnlua cdummy", ":00000006\tsnlua datacenterd",
        ":00000007\tsnlua service_mgr", ":0000000a\tsnlua simpledb",
        ":0000000b\tsnlua debug_console 8000"]
MEM = [":00000004\t47.60 Kb (snlua cdummy)", ":00000006\t52.11 Kb (snlua datacenterd)",
       ":00000007\t60.93 Kb (snlua service_mgr)", ":0000000a\t49.02 Kb (snlua simpledb)",
       ":0000000b\t101.77 Kb (snlua debug_console 8000)"]
STAT = [":00000004\tcpu:0.000182\tmessage:5\tmqlen:0\ttask:0",
        ":00000006\tcpu:0.000141\tmessage:4\tmqlen:0\ttask:0",
        ":00000007\tcpu:0.000502\tmessage:9\tmqlen:0\ttask:0",
        ":0000000a\tcpu:0.001205\tmessage:12\tmqlen:2\ttask:1",
        ":0000000b\tcpu:0.003917\tmessage:31\tmqlen:0\ttask:1"]


def test_list_is_address_and_launch_line() -> None:
    rows = parse.parse_list(LIST)
    assert rows[3] == {"address": ":0000000a", "kind": "snlua", "name": "simpledb", "args": "",
                       "launch": "snlua simpledb"}
    assert rows[4]["name"] == "debug_console" and rows[4]["args"] == "8000"
    header, table = parse.table("list", LIST)
    assert header == ["address", "service"]
    assert table[0] == [":00000004", "snlua cdummy"]


def test_mem_reads_kilobytes_and_the_service() -> None:
    rows = parse.parse_mem(MEM)
    assert rows[0] == {"address": ":00000004", "kb": "47.60", "launch": "snlua cdummy"}
    header, table = parse.table("mem", MEM)
    assert header == ["address", "memory", "service"]
    assert table[0] == [":00000004", "47.60 Kb", "snlua cdummy"]


def test_stat_fields_become_columns() -> None:
    header, table = parse.table("stat", STAT)
    assert header == ["address", "cpu", "message", "mqlen", "task"]
    assert table[3] == [":0000000a", "0.001205", "12", "2", "1"]


def test_services_joins_list_mem_and_stat() -> None:
    header, rows = parse.services(LIST, MEM, STAT)
    assert header[:2] == ["address", "name"]
    row = rows[3]
    assert row[:3] == [":0000000a", "simpledb", "snlua"]
    assert "49.02 KB" in row and "12" in row
    text = parse.format_table(header, rows)
    assert text.splitlines()[0].split() == header


def test_service_answer_and_plain_text_answers() -> None:
    header, rows = parse.table("service", ["DATACENTER\t:00000006", "SERVICE\t:00000007"])
    assert header == ["name", "address"] and rows[1] == ["SERVICE", ":00000007"]
    assert parse.table("ping :0000000a", ["0"]) is None
    assert parse.table("help", ["call\tcall address ...", "clearcache\tclear lua code cache"]) \
        is None


def test_a_console_error_loses_its_position_prefix() -> None:
    text = "./service/debug_console.lua:177: cell:1: boom\nstack traceback:"
    assert parse.strip_console_position(text) == "cell:1: boom\nstack traceback:"
    other = "/opt/skynet/service/debug_console.lua:84: Invalid command"
    assert parse.strip_console_position(other) == "Invalid command"
    assert parse.strip_console_position("call failed") == "call failed"


def test_unfinished_values_lines_continue_the_previous_key() -> None:
    pairs = parse.key_values(["1: 2 task(s), sessions 3,4\t", "stack traceback:", "\tx.lua:1"])
    assert pairs == [("1: 2 task(s), sessions 3,4", "\nstack traceback:\n\tx.lua:1")]


@pytest.mark.timeout(60)
def test_a_long_answer_without_tabs_is_read_in_linear_time() -> None:
    # 100,000 lines of 100 bytes continue one value: adding them to a string one by one
    # took minutes (quadratic); gathering and joining them once takes a moment.
    lines = [f"{i:09d} ".ljust(99, ".") for i in range(100_000)]
    pairs = parse.key_values(["first", *lines])
    assert len(pairs) == 1 and pairs[0][0] == "first"
    assert pairs[0][1] == "\n" + "\n".join(lines)
    assert parse.table("dump", ["first", *lines]) is None


def test_fields_with_a_key_per_row_are_text_not_a_table() -> None:
    # every row with its own field key: as a table, each row would be thousands of cells
    lines = [f":{i:08x}\tk{i}:v" for i in range(3000)]
    assert parse.table("netstat", lines) is None
    few = [f":{i:08x}\tk{i % 3}:v{i}" for i in range(3000)]
    header, rows = parse.table("netstat", few)
    assert header == ["address", "k0", "k1", "k2"] and rows[4] == [":00000004", "", "v4", ""]


def test_cell_output_is_split_at_the_marker() -> None:
    cell = wrap("return 1", session="s")
    m = cell.marker
    printed = f"a\n\\<CMD OK>\n{m} values\n1\t\"x\""
    r = read_output(printed, m)
    assert r.ok and r.output == "a\n<CMD OK>" and r.values == ["1", '"x"']
    err = f"out\n{m} error\ncell[2]:1: boom\nstack traceback:\n\tcell[2]:1: in main chunk\n" \
          "\t[C]: in function 'xpcall'\n\t./lualib/skynet/inject.lua:80: in function"
    r = read_output(err, m)
    assert not r.ok and r.output == "out"
    assert r.error == "cell[2]:1: boom\nstack traceback:\n\tcell[2]:1: in main chunk"
    assert read_output("plain", m).output == "plain"


def test_wrapper_long_bracket_never_clashes_with_the_cell() -> None:
    src = "return ']]', ']=]'"
    chunk = wrap(src, session="s").chunk
    assert "[==[\n" + src + "]==]" in chunk
