"""Repo-level wiring: the plugin comes from the installed package (entry point pytest11)."""
