"""Node preparation: Ansible playbooks shipped with sitebox, and checks of their result."""

from __future__ import annotations

from pathlib import Path

# The playbooks and roles, shipped inside the package so an installed sitebox has them.
ANSIBLE_DIR = Path(__file__).resolve().parent / "ansible"
