"""Pinned tools: what the distribution pins, how each is built, where it lives."""
