-- `snax`: the name skykernel used before it had skynet's `skynet.snax`; the same module.
return require "skynet.snax"
