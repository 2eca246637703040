"""Rank processes for distributed cases: the rank side, the pools, torchrun's group. No pytest, no settings."""
