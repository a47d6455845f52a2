"""The management interface (ZMI) guard (issue 6)."""
