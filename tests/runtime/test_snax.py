"""snax services and snax.hotfix: skynet's semantics, except that a failing patch changes
nothing (skynet leaves the methods before the failing one patched)."""

from __future__ import annotations

from conftest import lines_with

PINGSERVER = """
local skynet = require "skynet"
local i = 0
local hello = "hello"

function response.ping(x)
	i = i + 1
	return hello .. " " .. tostring(x) .. " " .. i
end

function accept.add(n)
	i = i + n
end

function response.count()
	return i
end

function init(...)
	skynet.error("pingserver init", ...)
end

function exit(...)
	skynet.error("pingserver exit", ...)
end
"""


def snax_tree(tree, main: str) -> None:
    tree.write({"snax/pingserver.lua": PINGSERVER, "service/main.lua": main})


def run(tree, main: str) -> list[str]:
    snax_tree(tree, main)
    return tree.run(config='snax = "./snax/?.lua"\n')


MAIN_HEAD = """
local skynet = require "skynet"
local snax = require "snax"
skynet.start(function()
"""
MAIN_TAIL = """
	skynet.error("END")
end)
"""


def test_newservice_post_req_and_kill(tree):
    lines = run(tree, MAIN_HEAD + """
	local ps = snax.newservice("pingserver", "a", 1)
	skynet.error("R", ps.req.ping("x"))
	ps.post.add(10)
	skynet.error("R", ps.req.count())
	skynet.error("R", tostring(ps):match("^%[pingserver:"))
	snax.kill(ps, "bye")
""" + MAIN_TAIL)
    assert "pingserver init a 1" in lines
    assert lines_with(lines, "R ") == ["R hello x 1", "R 11", "R [pingserver:"]
    assert "pingserver exit bye" in lines


def test_uniqueservice_queryservice_share_one_instance(tree):
    lines = run(tree, MAIN_HEAD + """
	local a = snax.uniqueservice("pingserver", "u")
	local b = snax.queryservice("pingserver")
	skynet.error("R", a.handle == b.handle, a.req.ping(1), b.req.ping(2))
""" + MAIN_TAIL)
    assert lines.count("pingserver init u") == 1
    assert "R true hello 1 1 hello 2 2" in lines


def test_hotfix_joins_declared_upvalues_and_returns_hotfix_result(tree):
    lines = run(tree, MAIN_HEAD + """
	local ps = snax.newservice("pingserver")
	ps.req.ping(1)
	skynet.error("R", snax.hotfix(ps, [[
		local i
		local hello
		function response.ping(x)
			i = i + 100
			return hello .. "!" .. tostring(x) .. " " .. i
		end
		function hotfix(...)
			return "patched", i, ...
		end
	]], "arg"))
	skynet.error("R", ps.req.ping("y"))
	skynet.error("R", ps.req.count())
""" + MAIN_TAIL)
    assert lines_with(lines, "R ") == ["R patched 1 arg", "R hello!y 101", "R 101"]


def test_patch_mismatch_changes_nothing(tree):
    lines = run(tree, MAIN_HEAD + """
	local ps = snax.newservice("pingserver")
	local ok, err = pcall(snax.hotfix, ps, [[
		local i
		function response.ping() return "patched" end
		function accept.nosuch() end
	]])
	skynet.error("R", ok, err)
	skynet.error("R", ps.req.ping(1))
""" + MAIN_TAIL)
    assert lines_with(lines, "R ") == ["R false Patch mismatch accept.nosuch", "R hello 1 1"]


def test_patch_with_syntax_error_is_refused(tree):
    lines = run(tree, MAIN_HEAD + """
	local ps = snax.newservice("pingserver")
	local ok, err = pcall(snax.hotfix, ps, "function response.ping( return 1 end")
	skynet.error("R", ok, err:match("patch does not load") ~= nil)
	skynet.error("R", ps.req.ping(1))
""" + MAIN_TAIL)
    assert lines_with(lines, "R ") == ["R false true", "R hello 1 1"]


def test_ambiguous_upvalue_is_refused_only_when_the_patch_asks_for_it(tree):
    tree.write({"snax/amb.lua": """
do
	local n = 1
	function response.a() return n end
end
do
	local n = 2
	function response.b() return n end
end
local k = 5
function response.k() return k end
"""})
    lines = run(tree, MAIN_HEAD + """
	local s = snax.newservice("amb")
	local ok, err = pcall(snax.hotfix, s, "local n\\nfunction response.a() return n + 10 end")
	skynet.error("R", ok, err)
	skynet.error("R", s.req.a(), s.req.b())
	snax.hotfix(s, "local k\\nfunction response.k() return k * 2 end")
	skynet.error("R", s.req.k())
""" + MAIN_TAIL)
    assert lines_with(lines, "R ") == ["R false ambiguity local value n", "R 1 2", "R 10"]


def test_snax_paths_come_from_the_config(tree):
    lines = run(tree, MAIN_HEAD + """
	local ok, err = pcall(snax.newservice, "nosuch")
	skynet.error("R", ok, (tostring(err):find("./snax/nosuch.lua", 1, true)) ~= nil)
""" + MAIN_TAIL)
    assert "R false true" in lines
