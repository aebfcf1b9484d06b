"""Loopback port handling: find free ports, tell whether a port is taken."""

from __future__ import annotations

import socket
import time

HOST = "127.0.0.1"


def is_port_free(port: int, host: str = HOST) -> bool:
    """True when nothing listens on host:port and we could bind it now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def is_listening(port: int, host: str = HOST, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port(exclude: set[int] | None = None, host: str = HOST) -> int:
    """A port the OS says is free now, not in `exclude` (ports already handed to other services).

    Kept below 55536 because some servers (SeaweedFS) open a gRPC port at +10000.
    """
    exclude = exclude or set()
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((host, 0))
            port = sock.getsockname()[1]
        if port not in exclude and port < 55536 and is_port_free(port + 10000, host):
            return port
    raise RuntimeError("no free TCP port found on the loopback interface")


def wait_for_port(port: int, timeout: float, host: str = HOST) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if is_listening(port, host):
            return True
        time.sleep(0.2)
    return False
