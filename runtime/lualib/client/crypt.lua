-- client.crypt: real skynet opens the same C module under this name too (for clients),
-- as a table of its own with its own `padding`. Here: the same functions as
-- skynet.crypt, in a table of its own.

local crypt = require "skynet.crypt"

local client = {}
for k, v in pairs(crypt) do
	client[k] = v
end
client.padding = { iso7816_4 = 0, pkcs7 = 1 }

return client
