"""Composition: distribution + profile + site config (+ secrets) → chart values."""
