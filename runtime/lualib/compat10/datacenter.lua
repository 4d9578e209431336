-- compat10.datacenter: skynet 1.0's name for skynet.datacenter.
return require "skynet.datacenter"
