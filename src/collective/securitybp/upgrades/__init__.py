"""Upgrade steps; each bumps the default profile's version."""
