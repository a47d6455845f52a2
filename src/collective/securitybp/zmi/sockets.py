"""The TCP addresses a process listens on, read from ``/proc``.

A socket of the process is a link ``/proc/<pid>/fd/N -> socket:[inode]``;
``/proc/<pid>/net/tcp`` and ``tcp6`` list the sockets of its network
namespace with their inode, state and local address. Reading another
process's ``fd`` needs its user or root.
"""

from pathlib import Path
import ipaddress
import os
import socket


PROC = Path("/proc")
LISTEN = "0A"


def _address(hex_address, family):
    raw = bytes.fromhex(hex_address)
    # The kernel prints each 32-bit word in host byte order.
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return socket.inet_ntop(family, words)


def _socket_inodes(pid):
    inodes = set()
    fd_dir = PROC / str(pid) / "fd"
    for entry in os.listdir(fd_dir):
        try:
            target = os.readlink(fd_dir / entry)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def listening_addresses(pid):
    """The ``(address, port)`` pairs process ``pid`` listens on over TCP.

    :returns: a sorted list, or None when ``/proc`` cannot tell (no such
        process, or its descriptors are not readable for this user).
    """
    try:
        inodes = _socket_inodes(pid)
    except OSError:
        return None
    found = set()
    for name, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            lines = (PROC / str(pid) / "net" / name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) < 10 or parts[3] != LISTEN or parts[9] not in inodes:
                continue
            hex_address, _sep, hex_port = parts[1].partition(":")
            try:
                found.add((_address(hex_address, family), int(hex_port, 16)))
            except (ValueError, OSError):
                continue
    return sorted(found)


def is_loopback(address):
    """True for a loopback address (an IPv4-mapped one included)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback
