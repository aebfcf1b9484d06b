"""Loopback port handling."""

import socket
import threading
import time

from radiolake.stack.ports import free_port, is_listening, is_port_free, wait_for_port


def test_free_port_is_bindable_and_respects_exclusions():
    first = free_port()
    assert is_port_free(first)
    second = free_port(exclude={first})
    assert second != first
    assert 1024 <= second < 55536


def test_port_in_use_is_detected():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert not is_port_free(port)
        assert is_listening(port)
    assert is_port_free(port)
    assert not is_listening(port)


def test_wait_for_port_sees_a_late_listener_and_gives_up_in_bounded_time():
    port = free_port()
    assert wait_for_port(port, timeout=0.6) is False

    server = socket.socket()

    def listen_later():
        time.sleep(0.3)
        server.bind(("127.0.0.1", port))
        server.listen()

    thread = threading.Thread(target=listen_later)
    thread.start()
    try:
        assert wait_for_port(port, timeout=10) is True
    finally:
        thread.join()
        server.close()
