local skynet = require 'skynet'
skynet.start(function()
  skynet.dispatch('lua', function()
    skynet.error('going to loop soon')
    skynet.sleep(100)
    skynet.error('looping now')
    while true do end
  end)
end)
