-- compat10.stm: skynet 1.0's name for skynet.stm.
return require "skynet.stm"
