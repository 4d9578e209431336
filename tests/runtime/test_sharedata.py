"""sharedata: data updated while readers run; readers see it on their next access."""

from __future__ import annotations

from conftest import lines_with

HEAD = """
local skynet = require "skynet"
local sharedata = require "skynet.sharedata"
"""


def test_new_query_update_delete(tree):
    tree.write({"service/main.lua": HEAD + """
skynet.start(function()
	sharedata.new("deal", { round = 1, hands = { 5, 5 }, rules = { jokers = true } })
	local reader = skynet.newservice("reader")
	skynet.call(reader, "lua", "show")
	sharedata.update("deal", { round = 2, hands = { 7, 7, 7 }, rules = { jokers = false } })
	skynet.sleep(1)
	skynet.call(reader, "lua", "show")
	sharedata.delete("deal")
	skynet.sleep(1)
	skynet.call(reader, "lua", "gone")
	skynet.error("END")
end)
""", "service/reader.lua": HEAD + """
local deal
skynet.start(function()
	deal = sharedata.query("deal")
	skynet.dispatch("lua", function(_, _, cmd)
		if cmd == "show" then
			local n = 0
			for _ in pairs(deal.hands) do n = n + 1 end
			skynet.error("R", deal.round, #deal.hands, n, deal.rules.jokers)
		else
			skynet.error("R", pcall(function() return deal.round end))
		end
		skynet.ret()
	end)
end)
"""})
    lines = tree.run()
    r = lines_with(lines, "R ")
    assert r[:2] == ["R 1 2 2 true", "R 2 3 3 false"]
    assert r[2] == "R true 2"  # as in skynet, a deleted object stays readable where queried


def test_held_subtable_proxy_raises_after_its_key_disappears(tree):
    tree.write({"service/main.lua": HEAD + """
skynet.start(function()
	sharedata.new("cfg", { a = { x = 1 }, b = { y = 2 } })
	local cfg = sharedata.query("cfg")
	local a, b = cfg.a, cfg.b
	skynet.error("R", a.x, b.y)
	sharedata.update("cfg", { a = { x = 10 } })
	skynet.sleep(1)
	skynet.error("R", a.x, cfg.a.x, cfg.b)
	skynet.error("R", pcall(function() return b.y end))
	local ok = pcall(function() cfg.a = 1 end)
	skynet.error("R", ok)
	skynet.error("END")
end)
"""})
    r = lines_with(tree.run(), "R ")
    assert r[0] == "R 1 2"
    assert r[1] == "R 10 10 nil"
    assert r[2].startswith("R false") and "The key [.b] doesn't exist after update" in r[2]
    assert r[3] == "R false"


def test_data_from_source_text_and_file(tree):
    tree.write({"deal.lua": "round = 3\ncards = { 'A', 'K' }\n", "service/main.lua": HEAD + """
skynet.start(function()
	sharedata.new("src", "x = 1\\ny = { 2, 3 }")
	sharedata.new("file", "@deal.lua")
	local s, f = sharedata.query("src"), sharedata.query("file")
	skynet.error("R", s.x, s.y[2], f.round, f.cards[1])
	skynet.error("END")
end)
"""})
    assert lines_with(tree.run(), "R ") == ["R 1 3 3 A"]
