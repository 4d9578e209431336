"""Views: widgets over plain data that the Lua introspection (runtime/lualib/skykernel)
and the node produced. Nothing here imports lupa or reaches into a Lua state."""
