"""Many sites as one: `sitebox fleet` over a fleet.yaml (shared settings, federation glue)."""
