-- compat10.profile: skynet 1.0's name for skynet.profile.
return require "skynet.profile"
