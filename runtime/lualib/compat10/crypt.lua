-- compat10.crypt: skynet 1.0's name for skynet.crypt.
return require "skynet.crypt"
