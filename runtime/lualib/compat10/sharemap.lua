-- compat10.sharemap: skynet 1.0's name for skynet.sharemap.
return require "skynet.sharemap"
