"""The node's network side (skynet's socket_server + skynet_socket): sockets owned by
services, their events delivered as `socket` protocol messages. See docs/network.md."""
