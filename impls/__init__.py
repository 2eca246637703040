"""Shipped candidates (and the reference fusion pass), each in its own module."""
