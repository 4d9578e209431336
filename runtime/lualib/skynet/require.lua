-- skynet.require: `require` that waits while another coroutine loads the same module.
-- The loader installs it in every service, so it lives in skynet.core.

return { require = require("skynet.core").require }
