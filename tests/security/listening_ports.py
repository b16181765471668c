"""Which local addresses a port listens on (for the "internal services on loopback" checks)."""

from __future__ import annotations

import socket
from pathlib import Path


def listening_hosts(port: int) -> set[str]:
    """Local addresses with a listening TCP socket on `port` (Linux /proc/net/tcp and tcp6)."""
    hosts = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except FileNotFoundError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host_hex, port_hex = address.rsplit(":", 1)
            if state == "0A" and int(port_hex, 16) == port:  # 0A: LISTEN
                if len(host_hex) == 8:
                    hosts.add(socket.inet_ntop(socket.AF_INET, bytes.fromhex(host_hex)[::-1]))
                else:
                    raw = bytes.fromhex(host_hex)
                    hosts.add(socket.inet_ntop(socket.AF_INET6, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))
    return hosts
