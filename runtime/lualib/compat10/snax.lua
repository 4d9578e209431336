-- compat10.snax: skynet 1.0's name for skynet.snax.
return require "skynet.snax"
