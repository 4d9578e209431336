-- skynet.datasheet.init: the same module as skynet.datasheet (skynet finds it either way).
return require "skynet.datasheet"
