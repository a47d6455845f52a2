"""The management guard: keeps the management interface (ZMI), WebDAV and
XML-RPC on the manage hosts, and writes matching web server rules."""
