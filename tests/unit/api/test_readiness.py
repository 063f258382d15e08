"""``edge.Readiness``: what the event loop has still to read, on real sockets."""

from __future__ import annotations

import socket

from cumulo.edge.server import Readiness


def test_a_connection_with_bytes_waiting_is_pending_until_they_are_read() -> None:
    readiness = Readiness()
    server, client = socket.socketpair()
    try:
        readiness.watch(server.fileno())
        assert not readiness.pending()
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")
        assert readiness.pending()
        server.recv(1024)
        assert not readiness.pending()
    finally:
        server.close()
        client.close()
        readiness.close()


def test_a_connection_waiting_to_be_accepted_is_pending_and_a_closed_socket_leaves() -> None:
    readiness = Readiness()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        readiness.watch(listener.fileno())
        assert not readiness.pending()
        peer = socket.create_connection(listener.getsockname())
        assert readiness.pending()
        accepted, _ = listener.accept()
        assert not readiness.pending()
        readiness.watch(accepted.fileno())
        peer.sendall(b"x")
        assert readiness.pending()
        accepted.close()                 # closed with bytes unread: no longer watched
        assert not readiness.pending()
        peer.close()
    finally:
        listener.close()
        readiness.close()
