-- compat10.sharedata: skynet 1.0's name for skynet.sharedata.
return require "skynet.sharedata"
