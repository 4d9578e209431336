-- compat10.multicast: skynet 1.0's name for skynet.multicast.
return require "skynet.multicast"
