"""Free loopback ports for the servers tests start (never the machine's services' ports)."""

from __future__ import annotations

import socket


def free_port() -> int:
    """A port nothing listens on now; the OS picks it, so it is never a well-known one."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
