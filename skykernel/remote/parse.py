"""Reading skynet's console answers: tables where an answer is tabular.

The console prints a command's result table as `key<TAB>value` lines, sorted by key; a
value that is itself a table becomes `k1:v1<TAB>k2:v2...` (sorted). So `list` answers
`:0000000a<TAB>snlua simpledb`, `stat` answers `:0000000a<TAB>cpu:0.01<TAB>message:5<TAB>
mqlen:0<TAB>task:0`, `mem` answers `:0000000a<TAB>47.60 Kb (snlua simpledb)`.
"""

from __future__ import annotations

import re

#: `error(msg)` in the console's own code prefixes the first line with its position.
_CONSOLE_POSITION = re.compile(r"^\S*debug_console\.lua:\d+: ")
_MEM = re.compile(r"^(?P<kb>[\d.]+) Kb \((?P<service>.*)\)$")
_ADDRESS = re.compile(r"^:[0-9a-fA-F]{8}$")
#: An answer whose `k:v` fields have more distinct keys than this is shown as text.
MAX_COLUMNS = 40


def strip_console_position(text: str) -> str:
    """`<CMD Error>` answers carry `.../debug_console.lua:123: ` before the message."""
    return _CONSOLE_POSITION.sub("", text, count=1)


def key_values(lines: list[str]) -> list[tuple[str, str]]:
    """`key<TAB>rest` lines; a line without a tab, or starting with one (a traceback),
    continues the previous value."""
    # Each value's lines are gathered and joined once: adding line by line to a string
    # copies the value so far each time, quadratic in a long answer with few tabs.
    keys: list[str] = []
    values: list[list[str]] = []
    for line in lines:
        key, tab, rest = line.partition("\t")
        if tab and key:
            keys.append(key)
            values.append([rest])
        elif values:
            values[-1].append(line)
        else:
            keys.append(line)
            values.append([""])
    return [(k, "\n".join(v)) for k, v in zip(keys, values, strict=True)]


def fields(value: str) -> dict[str, str] | None:
    """`k1:v1<TAB>k2:v2` -> {k1: v1, k2: v2}; None when it is not that shape."""
    parts = value.split("\t")
    out: dict[str, str] = {}
    for part in parts:
        key, colon, val = part.partition(":")
        if not colon or not key or " " in key:
            return None
        out[key] = val
    return out


def parse_list(lines: list[str]) -> list[dict[str, str]]:
    """`list`: address and the launch line (`snlua simpledb`)."""
    rows = []
    for address, launch in key_values(lines):
        kind, _, args = launch.partition(" ")
        name, _, rest = args.partition(" ")
        rows.append({"address": address, "kind": kind, "name": name, "args": rest,
                     "launch": launch})
    return rows


def parse_mem(lines: list[str]) -> list[dict[str, str]]:
    """`mem`: address, KB (as text, two decimals as skynet prints) and the launch line."""
    rows = []
    for address, value in key_values(lines):
        m = _MEM.match(value)
        if m:
            rows.append({"address": address, "kb": m["kb"], "launch": m["service"]})
        else:  # a service that did not answer MEM in time: skynet prints what it got
            rows.append({"address": address, "kb": "", "launch": value})
    return rows


def parse_fields(lines: list[str]) -> list[dict[str, str]]:
    """`stat`, `codecache`, `netstat` (table values): key plus one column per field."""
    rows = []
    for key, value in key_values(lines):
        row = {"key": key}
        row.update(fields(value) or {"value": value})
        rows.append(row)
    return rows


def parse_service(lines: list[str]) -> list[dict[str, str]]:
    """`service`: unique services by name (`name<TAB>address`, or a waiting note)."""
    return [{"name": k, "address": v} for k, v in key_values(lines)]


def table(command: str, lines: list[str]) -> tuple[list[str], list[list[str]]] | None:
    """(header, rows) for the tabular answers (list, mem, stat, service, and any answer
    whose every line is `key<TAB>k:v...`), None for the rest."""
    word = command.split(None, 1)[0] if command.strip() else ""
    if not lines:
        return None
    if word == "list":
        return (["address", "service"], [[r["address"], r["launch"]] for r in parse_list(lines)])
    if word == "mem":
        return (["address", "memory", "service"],
                [[r["address"], f"{r['kb']} Kb" if r["kb"] else "", r["launch"]]
                 for r in parse_mem(lines)])
    if word == "service":
        return (["name", "address"], [[r["name"], r["address"]] for r in parse_service(lines)])
    pairs = key_values(lines)
    shaped = [(k, fields(v)) for k, v in pairs]
    if word == "stat" or (len(pairs) > 1 and all(f for _, f in shaped)):
        columns: dict[str, None] = {}  # in order of first appearance
        for _, f in shaped:
            for c in f or {}:
                columns.setdefault(c)
            if len(columns) > MAX_COLUMNS:
                return None  # a field per row is no table: every row would be that wide
        header = ["address" if all(_ADDRESS.match(k) for k, _ in pairs) else "key", *columns]
        return header, [[k, *[(f or {}).get(c, "") for c in columns]] for k, f in shaped]
    return None


def format_table(header: list[str], rows: list[list[str]]) -> str:
    """Columns padded to their widest cell, as %services prints."""
    all_rows = [header, *rows]
    widths = [max(len(r[i]) for r in all_rows) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in all_rows)


def services(list_lines: list[str], mem_lines: list[str], stat_lines: list[str]
             ) -> tuple[list[str], list[list[str]]]:
    """One services table from `list`, `mem` and `stat`, joined on the address."""
    mem = {r["address"]: r["kb"] for r in parse_mem(mem_lines)}
    stat = {r["key"]: r for r in parse_fields(stat_lines)}
    rows = []
    for r in parse_list(list_lines):
        s = stat.get(r["address"], {})
        kb = mem.get(r["address"], "")
        rows.append([r["address"], f"{r['name']} {r['args']}".strip(), r["kind"],
                     s.get("mqlen", ""), f"{kb} KB" if kb else "", s.get("message", ""),
                     s.get("task", "")])
    return ["address", "name", "kind", "mqlen", "memory", "messages", "tasks"], rows
