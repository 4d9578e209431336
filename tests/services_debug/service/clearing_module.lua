-- A module that clears the code cache while it is itself being loaded.
local codecache = require "skynet.codecache"
local gen = codecache.clear()
return { cleared_to = gen }
