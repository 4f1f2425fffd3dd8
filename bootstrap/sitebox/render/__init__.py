"""Checks on rendered manifests and chart values, run before anything touches a cluster."""
