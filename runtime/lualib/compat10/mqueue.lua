-- compat10.mqueue: skynet 1.0's name for skynet.mqueue.
return require "skynet.mqueue"
