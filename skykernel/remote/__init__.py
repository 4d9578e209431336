"""Layer 5: attach to real skynet nodes over their debug console.

Nothing here needs the in-process node or lupa: a remote node is reached only through
skynet's console line protocol (`client`), its answers are read as text (`parse`, `cell`),
and named connections with their temp files live in `session`.
"""
