"""lpeg (LPeg 1.1.0 in Lua in skykernel) against LPeg's C in real skynet, in one run.

The same Lua benchmark service runs on real skynet (each build present) and on a
skykernel node, rounds interleaved so both see the same machine; each case reports the
median CPU time per operation and skykernel's time as a multiple of skynet's. Where real
skynet is absent, skykernel's figures print alone. The service also reports the memory a
service spends on lpeg.

    python bench/bench_lpeg.py [ROUNDS]      (default 5)
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # realskynet.py: where real skynet is, how to run it

import realskynet  # noqa: E402

from skykernel.node.config import load_config  # noqa: E402
from skykernel.node.logger import Logger  # noqa: E402
from skykernel.node.node import Node  # noqa: E402

# Each case runs in batches until MIN_SECONDS of the process's CPU time have passed
# (os.clock: a busy shared machine slows the wall clock more than it slows the work).
SERVICE = r"""
local skynet = require "skynet"
local MIN_SECONDS = 0.25

local function kb()
	collectgarbage("collect")
	collectgarbage("collect")
	return collectgarbage("count")
end

local before = kb()
local lpeg = require "lpeg"
local required = kb()
local P, R, S, C, Cc, Ct, Cs, Cg, Cf, V = lpeg.P, lpeg.R, lpeg.S, lpeg.C, lpeg.Cc, lpeg.Ct,
	lpeg.Cs, lpeg.Cg, lpeg.Cf, lpeg.V

-- deterministic text (the same on every Lua)
local seed = 12345
local function rand(n)
	seed = (seed * 1103515245 + 12345) % 2147483648
	return seed % n
end
local words = { "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta",
	"iota", "kappa" }

-- CSV, about 10 KB: plain fields and quoted ones with commas and doubled quotes
local lines, size = {}, 0
while size < 10240 do
	local f = {}
	for k = 1, 6 do
		local w = words[rand(10) + 1]
		local quoted = '"' .. w .. ', ""' .. w .. '""' .. '"'
		f[k] = rand(5) == 0 and quoted or w .. rand(1000)
	end
	lines[#lines + 1] = table.concat(f, ",")
	size = size + #lines[#lines] + 1
end
local CSV = table.concat(lines, "\n") .. "\n"

local function csvpattern()
	local field = '"' * Cs(((P(1) - '"') + P'""' / '"')^0) * '"' + C((1 - S',\n"')^0)
	local record = Ct(field * ("," * field)^0) * "\n"
	return Ct(record^0) * -1
end

-- A JSON document, about 10 KB
local function jvalue(d)
	local r = rand(d > 3 and 4 or 7)
	if r == 0 then
		return tostring(rand(100000) - 500)
	elseif r == 1 then
		return '"' .. words[rand(10) + 1] .. ' \\"q\\" ' .. rand(99) .. '"'
	elseif r == 2 then
		return ({ "true", "false", "null" })[rand(3) + 1]
	elseif r == 3 then
		return tostring(rand(1000) / 8)
	elseif r <= 5 then
		local t = {}
		for k = 1, rand(5) + 1 do
			t[k] = jvalue(d + 1)
		end
		return "[ " .. table.concat(t, ", ") .. " ]"
	end
	local t = {}
	for k = 1, rand(5) + 1 do
		t[k] = '"' .. words[rand(10) + 1] .. k .. '" : ' .. jvalue(d + 1)
	end
	return "{\n  " .. table.concat(t, ",\n  ") .. "\n}"
end
local items = {}
size = 0
while size < 10240 do
	items[#items + 1] = jvalue(1)
	size = size + #items[#items] + 2
end
local JSON = "[\n" .. table.concat(items, ",\n") .. "\n]"

local function jsonpattern()
	local ws = S" \t\r\n"^0
	local digits = R"09"^1
	local exponent = S"eE" * S"+-"^-1 * digits
	local number = C(P"-"^-1 * digits * ("." * digits)^-1 * exponent^-1) / tonumber
	local escapes = { ['"'] = '"', ["\\"] = "\\", ["/"] = "/", b = "\b", f = "\f", n = "\n",
		r = "\r", t = "\t" }
	local escape = (P"\\" * C(S'"\\/bfnrt')) / escapes
	local str = '"' * Cs(((P(1) - S'"\\') + escape)^0) * '"'
	local lit = P"true" * Cc(true) + P"false" * Cc(false) + P"null" * Cc(nil)
	return P{ "doc",
		doc = ws * V"value" * ws * -1,
		value = str + number + V"object" + V"array" + lit,
		member = Cg(ws * str * ws * ":" * ws * V"value" * ws),
		object = "{" * Cf(Ct"" * (V"member" * ("," * V"member")^0)^-1, rawset) * ws * "}",
		array = "[" * Ct((ws * V"value" * ws * ("," * ws * V"value" * ws)^0)^-1) * ws * "]",
	}
end

-- A schema in the style of sproto's: 40 types, 20 protocols, about 8 KB
local parts = {}
for k = 1, 40 do
	local fields = {}
	for f = 0, rand(8) + 2 do
		local kind = rand(4)
		local ty = ({ "integer", "string", "boolean", "double", "binary" })[rand(5) + 1]
		if kind == 0 then
			ty = "*" .. ty
		elseif kind == 1 and k > 1 then
			ty = "*Type" .. rand(k - 1) + 1 .. "(id)"
		elseif kind == 2 and k > 1 then
			ty = "Type" .. rand(k - 1) + 1
		end
		fields[#fields + 1] = string.format("\t%s_%d %d : %s", words[rand(10) + 1], f, f, ty)
	end
	parts[#parts + 1] = string.format(".Type%d { # type %d\n%s\n}\n", k, k,
		table.concat(fields, "\n"))
end
for k = 1, 20 do
	parts[#parts + 1] = string.format("call%d %d {\n\trequest Type%d\n\tresponse {\n"
		.. "\t\tok 0 : boolean\n\t\tresult 1 : *Type%d\n\t}\n}\n", k, k, rand(40) + 1, rand(40) + 1)
end
local SCHEMA = table.concat(parts)

local function schemapattern()
	local blank = S" \t\r\n"^1 + "#" * (1 - P"\n")^0
	local sp = blank^0
	local word = R("az", "AZ", "__") * R("az", "AZ", "09", "__")^0
	local name = C(word)
	local tag = R"09"^1 / tonumber
	local typename = C(word * ("." * word)^0)
	local fieldtype = Ct(Cg(P"*" * Cc(true), "array")^-1 * Cg(typename, "type")
		* ("(" * sp * Cg(name, "key") * sp * ")")^-1)
	local field = Ct(Cg(name, "name") * sp * Cg(tag, "tag") * sp * ":" * sp
		* Cg(fieldtype, "type"))
	return P{ "all",
		all = Ct(sp * ((V"type" + V"protocol") * sp)^0) * -1,
		body = "{" * sp * Ct(((field + V"type") * sp)^0) * "}",
		type = Ct(Cg(Cc"type", "kind") * "." * Cg(name, "name") * sp * Cg(V"body", "body")),
		message = Ct(Cg(C(P"request" + P"response"), "which") * sp
			* (Cg(typename, "type") + Cg(V"body", "body"))),
		protocol = Ct(Cg(Cc"protocol", "kind") * Cg(name, "name") * sp * Cg(tag, "tag") * sp
			* "{" * sp * Ct((V"message" * sp)^0) * "}"),
	}
end

local csv, json, schema, linepattern -- built once memory() has measured
local line = "alpha1,beta2,\"gamma, 3\",delta4\n"

local CASES = {
	{ "build CSV pattern", csvpattern },
	{ "build JSON grammar", jsonpattern },
	{ "build schema grammar", schemapattern },
	{ "build+first match JSON", function() jsonpattern():match("[]") end },
	{ "build+first match schema", function() schemapattern():match("") end },
	{ "match CSV line (30 B)", function() linepattern:match(line) end },
	{ "split CSV (10 KB)", function() csv:match(CSV) end },
	{ "parse JSON (10 KB)", function() json:match(JSON) end },
	{ "parse schema (8 KB)", function() schema:match(SCHEMA) end },
}

-- Memory: require, then a first match (the compiler and capture evaluation load), then a
-- collection cycle without compiling (the compiler goes), then a JSON grammar, built and
-- used. Measured before the timings, in a service that has not used lpeg yet.
local function memory()
	local base = kb()
	lpeg.C(P"a"):match("a")
	collectgarbage()
	local first = collectgarbage("count")
	local idle = kb()
	kb()
	local p = jsonpattern()
	p:match(JSON)
	local after = kb()
	kb()
	after = kb()
	skynet.error(string.format("MEMORY require \"lpeg\"|%.1f", required - before))
	skynet.error(string.format("MEMORY + first match (compiler loaded)|%.1f", first - base))
	skynet.error(string.format("MEMORY   after a GC cycle without compiling|%.1f", idle - base))
	skynet.error(string.format("MEMORY a JSON grammar, built and used|%.1f", after - idle))
	return p
end

skynet.start(function()
	memory()
	csv, json, schema = csvpattern(), jsonpattern(), schemapattern()
	assert(#csv:match(CSV) == #lines, "csv")
	assert(json:match(JSON), "json")
	assert(#schema:match(SCHEMA) == 60, "schema")
	linepattern = Ct(csvpattern())
	for _, case in ipairs(CASES) do
		local name, f = case[1], case[2]
		f()
		local n, elapsed, batch = 0, 0, 1
		while elapsed < MIN_SECONDS do
			local t0 = os.clock()
			for _ = 1, batch do
				f()
			end
			elapsed = elapsed + (os.clock() - t0)
			n = n + batch
			batch = batch * 2
		end
		skynet.error(string.format("RESULT %s|%.1f", name, elapsed / n * 1e9))
	end
	skynet.error("END")
end)
"""

CONFIG = 'luaservice = "./service/?.lua"\nstart = "bench_lpeg"\nharbor = 0\n'


def parse(lines: list[str], tag: str) -> dict[str, float]:
    """{case: figure} from a run's `TAG name|figure` lines."""
    out = {}
    for line in lines:
        if line.startswith(tag + " "):
            name, value = line[len(tag) + 1:].rsplit("|", 1)
            out[name] = float(value)
    return out


async def skykernel_round() -> list[str]:
    node = Node(load_config("config"), logger=Logger())
    done = asyncio.Event()
    node.logger.sinks.append(lambda line: line.text in ("END", "abort") and done.set())
    await node.start()
    try:
        await asyncio.wait_for(done.wait(), 600)
    finally:
        await node.shutdown()
    return [line.text for line in node.logger.history]


def real_round(build: str) -> list[str]:
    return realskynet.run(Path("config").resolve(), build, timeout=600, cwd=Path.cwd())


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    builds = realskynet.builds()
    if not builds:
        print(realskynet.missing_message() + ": skykernel's figures alone")
    runs: dict[str, list[list[str]]] = {"skykernel": [], **{b: [] for b in builds}}
    with tempfile.TemporaryDirectory() as tmp:
        os.chdir(tmp)
        Path("service").mkdir()
        Path("service", "bench_lpeg.lua").write_text(SERVICE)
        Path("config").write_text(CONFIG)
        for r in range(rounds):
            for build in builds:
                runs[build].append(real_round(build))
            runs["skykernel"].append(asyncio.run(skykernel_round()))
            print(f"round {r + 1}/{rounds} done", file=sys.stderr)

    def median(who: str, tag: str, case: str) -> float:
        return statistics.median(parse(run, tag)[case] for run in runs[who])

    heads = "".join(f"  skynet {b:<6}  ratio" for b in builds)
    print(f"{'case (time per operation)':<28}{'skykernel':>12}{heads}")
    for case in parse(runs["skykernel"][0], "RESULT"):
        ours = median("skykernel", "RESULT", case)
        row = f"{case:<28}{fmt(ours):>12}"
        for build in builds:
            theirs = median(build, "RESULT", case)
            row += f"  {fmt(theirs):>12} {ours / theirs:5.1f}x"
        print(row)
    if builds:
        print("ratio: skykernel's time / skynet's (C; master is Lua 5.5, 1.8 is Lua 5.4); "
              f"medians of {rounds} interleaved rounds")
    print()
    heads = "".join(f"  skynet {b:<6}" for b in builds)
    print(f"{'memory a service spends':<40}{'skykernel':>12}{heads}")
    for case in parse(runs["skykernel"][0], "MEMORY"):
        row = f"{case:<40}{median('skykernel', 'MEMORY', case):9.1f} KB"
        for build in builds:
            row += f"  {median(build, 'MEMORY', case):10.1f} KB"
        print(row)
    return 0


def fmt(ns: float) -> str:
    if ns >= 1e6:
        return f"{ns / 1e6:,.2f} ms"
    return f"{ns / 1000:,.1f} us" if ns >= 1000 else f"{ns:,.0f} ns"


if __name__ == "__main__":
    sys.exit(main())
