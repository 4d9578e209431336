"""The node: what skynet's C core does, in Python, hosting one Lua state per service."""
