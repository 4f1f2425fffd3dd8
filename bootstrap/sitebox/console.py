"""Terminal output: human tables and progress on the terminal, JSON for scripts."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console

# Progress and diagnostics go to stderr so that stdout stays clean for --output json.
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)

OUTPUT_FORMATS = ("text", "json")


def emit_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=True, default=str))
